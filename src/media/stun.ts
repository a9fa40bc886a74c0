/**
 * An ICE-lite STUN responder (RFC 5389 / 8445 §2.5): answers Binding
 * Requests with the requester's real XOR-MAPPED-ADDRESS (upstream echoed a
 * configured address), MESSAGE-INTEGRITY with the short-term password of
 * the ICE ufrag named in USERNAME, and FINGERPRINT. A request naming a
 * USERNAME whose integrity does not verify gets no answer; a request
 * without USERNAME gets an unauthenticated answer (plain reflexive-address
 * discovery, as any STUN server).
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import dgram from "node:dgram";

const MAGIC = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_USERNAME = 0x0006;
const ATTR_MESSAGE_INTEGRITY = 0x0008;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const ATTR_SOFTWARE = 0x8022;
const ATTR_FINGERPRINT = 0x8028;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Looks up the short-term ICE password of a STUN USERNAME (`ufrag` or `ufrag:remote`). */
export type StunCredentials = (username: string) => string | null;

interface Attribute {
  type: number;
  value: Uint8Array;
  /** Offset of the attribute header in the message. */
  at: number;
}

/** The attributes of a STUN message, or null when it is not one. */
function parse(msg: Uint8Array): { type: number; tid: Uint8Array; attrs: Attribute[] } | null {
  if (msg.length < 20 || (msg[0] & 0xc0) !== 0) return null;
  const v = new DataView(msg.buffer, msg.byteOffset, msg.length);
  const length = v.getUint16(2);
  if (v.getUint32(4) !== MAGIC || length + 20 !== msg.length || length % 4 !== 0) return null;
  const attrs: Attribute[] = [];
  let at = 20;
  while (at + 4 <= msg.length) {
    const type = v.getUint16(at);
    const len = v.getUint16(at + 2);
    if (at + 4 + len > msg.length) return null;
    attrs.push({ type, value: msg.subarray(at + 4, at + 4 + len), at });
    at += 4 + len + ((4 - (len % 4)) % 4);
  }
  return { type: v.getUint16(0), tid: msg.subarray(8, 20), attrs };
}

function hmac(key: string, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha1", key).update(bytes).digest());
}

/** `msg` up to attribute offset `at`, with the header length as if it ended `extra` bytes later. */
function prefix(msg: Uint8Array, at: number, extra: number): Uint8Array {
  const out = msg.slice(0, at);
  new DataView(out.buffer).setUint16(2, at - 20 + extra);
  return out;
}

/** Builds STUN messages attribute by attribute. */
class Builder {
  #parts: Uint8Array[] = [];
  #length = 0;
  constructor(readonly type: number, readonly tid: Uint8Array) {}
  add(type: number, value: Uint8Array): void {
    const padded = new Uint8Array(4 + value.length + ((4 - (value.length % 4)) % 4));
    const v = new DataView(padded.buffer);
    v.setUint16(0, type);
    v.setUint16(2, value.length);
    padded.set(value, 4);
    this.#parts.push(padded);
    this.#length += padded.length;
  }
  bytes(extra = 0): Uint8Array {
    const out = new Uint8Array(20 + this.#length);
    const v = new DataView(out.buffer);
    v.setUint16(0, this.type);
    v.setUint16(2, this.#length + extra);
    v.setUint32(4, MAGIC);
    out.set(this.tid, 8);
    let at = 20;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
  integrity(key: string): void {
    this.add(ATTR_MESSAGE_INTEGRITY, hmac(key, this.bytes(24)));
  }
  fingerprint(): void {
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(0, (crc32(this.bytes(8)) ^ 0x5354554e) >>> 0);
    this.add(ATTR_FINGERPRINT, value);
  }
}

function xorAddress(address: string, port: number, tid: Uint8Array): Uint8Array {
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(v4)) {
    const out = new Uint8Array(8);
    const d = new DataView(out.buffer);
    out[1] = 0x01;
    d.setUint16(2, port ^ (MAGIC >>> 16));
    d.setUint32(4, (v4.split(".").reduce((n, o) => (n << 8) + Number(o), 0) ^ MAGIC) >>> 0);
    return out;
  }
  const out = new Uint8Array(20);
  const d = new DataView(out.buffer);
  out[1] = 0x02;
  d.setUint16(2, port ^ (MAGIC >>> 16));
  const groups = expandV6(address);
  const mask = new Uint8Array(16);
  new DataView(mask.buffer).setUint32(0, MAGIC);
  mask.set(tid, 4);
  for (let i = 0; i < 8; i++) {
    out[4 + 2 * i] = (groups[i] >> 8) ^ mask[2 * i];
    out[5 + 2 * i] = (groups[i] & 0xff) ^ mask[2 * i + 1];
  }
  return out;
}

function expandV6(address: string): number[] {
  const [head, tail = ""] = address.split("::");
  const h = head ? head.split(":").map((g) => parseInt(g, 16)) : [];
  const t = tail ? tail.split(":").map((g) => parseInt(g, 16)) : [];
  return [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
}

/**
 * The answer to one datagram from `address:port`, or null when none is due
 * (not a Binding Request, a broken message, or integrity that fails).
 */
export function answerBinding(
  msg: Uint8Array,
  address: string,
  port: number,
  credentials: StunCredentials,
): Uint8Array | null {
  const m = parse(msg);
  if (!m || m.type !== BINDING_REQUEST) return null;
  const fp = m.attrs.find((a) => a.type === ATTR_FINGERPRINT);
  if (fp) {
    const expected = (crc32(prefix(msg, fp.at, 8)) ^ 0x5354554e) >>> 0;
    if (
      fp.value.length !== 4 ||
      new DataView(fp.value.buffer, fp.value.byteOffset).getUint32(0) !== expected
    ) {
      return null;
    }
  }
  const user = m.attrs.find((a) => a.type === ATTR_USERNAME);
  let key: string | null = null;
  if (user) {
    const username = new TextDecoder().decode(user.value);
    key = credentials(username.split(":")[0]);
    const mi = m.attrs.find((a) => a.type === ATTR_MESSAGE_INTEGRITY);
    if (key === null || !mi || mi.value.length !== 20) return null;
    const expected = hmac(key, prefix(msg, mi.at, 24));
    if (!timingSafeEqual(expected, mi.value)) return null;
  }
  const out = new Builder(BINDING_SUCCESS, m.tid);
  out.add(ATTR_XOR_MAPPED_ADDRESS, xorAddress(address, port, m.tid));
  out.add(ATTR_SOFTWARE, new TextEncoder().encode("CommuCat ICE-lite"));
  if (key !== null) out.integrity(key);
  out.fingerprint();
  return out.bytes();
}

/** A Binding Request (for clients and tests), with integrity when `credentials` are given. */
export function bindingRequest(credentials?: { username: string; password: string }): Uint8Array {
  const b = new Builder(BINDING_REQUEST, crypto.getRandomValues(new Uint8Array(12)));
  if (credentials) {
    b.add(ATTR_USERNAME, new TextEncoder().encode(credentials.username));
    b.integrity(credentials.password);
  }
  b.fingerprint();
  return b.bytes();
}

/** The XOR-MAPPED-ADDRESS of a Binding Success, or null. */
export function mappedAddress(msg: Uint8Array): { address: string; port: number } | null {
  const m = parse(msg);
  const a = m?.attrs.find((x) => x.type === ATTR_XOR_MAPPED_ADDRESS);
  if (!m || m.type !== BINDING_SUCCESS || !a || a.value[1] !== 1) return null;
  const d = new DataView(a.value.buffer, a.value.byteOffset);
  const ip = (d.getUint32(4) ^ MAGIC) >>> 0;
  return {
    address: [ip >>> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255].join("."),
    port: d.getUint16(2) ^ (MAGIC >>> 16),
  };
}

/** The UDP responder: listens on `host:port` and answers Binding Requests. */
export async function startStunResponder(
  host: string,
  port: number,
  credentials: StunCredentials,
  hooks: { request?(): void; failure?(): void } = {},
): Promise<{ port: number; close(): void }> {
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  socket.on("message", (msg, rinfo) => {
    hooks.request?.();
    const answer = answerBinding(new Uint8Array(msg), rinfo.address, rinfo.port, credentials);
    if (answer === null) hooks.failure?.();
    else socket.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(port, host, resolve));
  return { port: socket.address().port, close: () => socket.close() };
}
