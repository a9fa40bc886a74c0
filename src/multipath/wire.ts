/**
 * Path units (PROTOCOL.md "Multipath"): once a session runs multipath,
 * every path carries `varint(len) || body` units (the established-phase
 * framing, so every `/connect` mode carries them unchanged) whose first
 * byte says what the body is:
 *
 * ```
 * 0xA1 DATA      varint(seq) || ciphertext      one Noise transport message
 * 0xA2 FEC       FEC packet                     a symbol of a batch of DATA units
 * 0xA3 ACK       varint(cumulative) || mac16    units up to `cumulative` arrived
 * 0xA4 ATTACH    set_id16 || u32 counter || token32   first unit of a new path
 * 0xA5 ATTACHED  u32 counter || mac16           the server took the path
 * 0xA6 END       varint(last) || mac16          nothing follows unit `last`: the session ends
 * ```
 *
 * A body whose first byte is below 0x80 is a plain CCP-1 frame (an Error
 * refusing the path). Sequence numbers count this direction's transport
 * messages from 1 (the Ack, sent before multipath starts, is not counted).
 *
 * @module
 */
import { decodeVarint, encodeUnit, varintLength, writeVarint } from "../proto/mod.ts";
import { ATTACH_TOKEN_BYTES, MAC_BYTES, SET_ID_BYTES } from "./keys.ts";

/** Kind bytes of path units. */
export const PathKind = {
  Data: 0xa1,
  Fec: 0xa2,
  Ack: 0xa3,
  Attach: 0xa4,
  Attached: 0xa5,
  End: 0xa6,
} as const;

/** A decoded path unit. */
export type PathUnit =
  | { kind: "data"; seq: number; ciphertext: Uint8Array }
  | { kind: "fec"; packet: Uint8Array }
  | { kind: "ack"; cumulative: number; mac: Uint8Array }
  | { kind: "end"; last: number; mac: Uint8Array }
  | { kind: "attach"; setId: Uint8Array; counter: number; token: Uint8Array }
  | { kind: "attached"; counter: number; mac: Uint8Array }
  | { kind: "frame"; body: Uint8Array };

/** A path unit that is not one. */
export class PathUnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PathUnitError";
  }
}

/** Largest sequence number (2^53 − 1: a JS integer). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

function readSeq(body: Uint8Array, offset: number, what: string): { value: number; next: number } {
  let read;
  try {
    read = decodeVarint(body, offset, body.length);
  } catch {
    read = null;
  }
  if (!read || read.value < 1 || read.value > MAX_SEQ) {
    throw new PathUnitError(`${what}: bad sequence varint`);
  }
  return { value: read.value, next: offset + read.length };
}

/** Decodes one unit body (what the unit decoder split off). Throws {@link PathUnitError}. */
export function decodePathUnit(body: Uint8Array): PathUnit {
  if (body.length === 0) throw new PathUnitError("empty path unit");
  const kind = body[0];
  if (kind < 0x80) return { kind: "frame", body };
  switch (kind) {
    case PathKind.Data: {
      const { value, next } = readSeq(body, 1, "data");
      if (next >= body.length) throw new PathUnitError("data: no ciphertext");
      return { kind: "data", seq: value, ciphertext: body.subarray(next) };
    }
    case PathKind.Fec:
      if (body.length < 2) throw new PathUnitError("fec: empty packet");
      return { kind: "fec", packet: body.subarray(1) };
    case PathKind.Ack:
    case PathKind.End: {
      let read;
      try {
        read = decodeVarint(body, 1, body.length);
      } catch {
        read = null;
      }
      if (!read || read.value > MAX_SEQ || 1 + read.length + MAC_BYTES !== body.length) {
        throw new PathUnitError(`${kind === PathKind.Ack ? "ack" : "end"}: malformed`);
      }
      const mac = body.subarray(1 + read.length);
      return kind === PathKind.Ack
        ? { kind: "ack", cumulative: read.value, mac }
        : { kind: "end", last: read.value, mac };
    }
    case PathKind.Attach: {
      if (body.length !== 1 + SET_ID_BYTES + 4 + ATTACH_TOKEN_BYTES) {
        throw new PathUnitError("attach: malformed");
      }
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      return {
        kind: "attach",
        setId: body.subarray(1, 1 + SET_ID_BYTES),
        counter: view.getUint32(1 + SET_ID_BYTES),
        token: body.subarray(1 + SET_ID_BYTES + 4),
      };
    }
    case PathKind.Attached: {
      if (body.length !== 1 + 4 + MAC_BYTES) throw new PathUnitError("attached: malformed");
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
      return { kind: "attached", counter: view.getUint32(1), mac: body.subarray(5) };
    }
    default:
      throw new PathUnitError(`unknown path unit kind 0x${kind.toString(16)}`);
  }
}

/** `varint(len) || 0xA1 || varint(seq) || ciphertext`, ready for a link. */
export function dataUnit(seq: number, ciphertext: Uint8Array): Uint8Array {
  // One buffer, written once (not a body, then the body again behind its length).
  const length = 1 + varintLength(seq) + ciphertext.length;
  const out = new Uint8Array(varintLength(length) + length);
  let at = writeVarint(length, out, 0);
  out[at] = PathKind.Data;
  at = writeVarint(seq, out, at + 1);
  out.set(ciphertext, at);
  return out;
}

/** A FEC packet as a path unit. */
export function fecUnit(packet: Uint8Array): Uint8Array {
  const body = new Uint8Array(1 + packet.length);
  body[0] = PathKind.Fec;
  body.set(packet, 1);
  return encodeUnit(body);
}

/** An ACK (or, with `kind` End, an END) as a path unit. */
export function ackUnit(
  cumulative: number,
  mac: Uint8Array,
  kind: number = PathKind.Ack,
): Uint8Array {
  const length = 1 + varintLength(cumulative) + MAC_BYTES;
  const out = new Uint8Array(varintLength(length) + length);
  let at = writeVarint(length, out, 0);
  out[at] = kind;
  at = writeVarint(cumulative, out, at + 1);
  out.set(mac.subarray(0, MAC_BYTES), at);
  return out;
}

/** The ATTACH unit a new path starts with. */
export function attachUnit(setId: Uint8Array, counter: number, token: Uint8Array): Uint8Array {
  const body = new Uint8Array(1 + SET_ID_BYTES + 4 + ATTACH_TOKEN_BYTES);
  body[0] = PathKind.Attach;
  body.set(setId.subarray(0, SET_ID_BYTES), 1);
  new DataView(body.buffer).setUint32(1 + SET_ID_BYTES, counter);
  body.set(token.subarray(0, ATTACH_TOKEN_BYTES), 1 + SET_ID_BYTES + 4);
  return encodeUnit(body);
}

/** The server's ATTACHED confirmation. */
export function attachedUnit(counter: number, mac: Uint8Array): Uint8Array {
  const body = new Uint8Array(1 + 4 + MAC_BYTES);
  body[0] = PathKind.Attached;
  new DataView(body.buffer).setUint32(1, counter);
  body.set(mac.subarray(0, MAC_BYTES), 5);
  return encodeUnit(body);
}

/**
 * A batch of consecutive DATA units as one FEC object:
 * `varint(first_seq) || varint(count) || (varint(len) || ciphertext)*`.
 */
export function encodeBatch(firstSeq: number, ciphertexts: readonly Uint8Array[]): Uint8Array {
  let length = varintLength(firstSeq) + varintLength(ciphertexts.length);
  for (const c of ciphertexts) length += varintLength(c.length) + c.length;
  const out = new Uint8Array(length);
  let at = writeVarint(firstSeq, out, 0);
  at = writeVarint(ciphertexts.length, out, at);
  for (const c of ciphertexts) {
    at = writeVarint(c.length, out, at);
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Decodes a batch; throws {@link PathUnitError} on anything inconsistent. */
export function decodeBatch(
  bytes: Uint8Array,
  maxUnits: number,
): { firstSeq: number; ciphertexts: Uint8Array[] } {
  const first = readSeq(bytes, 0, "batch");
  let count;
  try {
    count = decodeVarint(bytes, first.next, bytes.length);
  } catch {
    count = null;
  }
  if (!count || count.value < 1 || count.value > maxUnits) {
    throw new PathUnitError("batch: bad count");
  }
  let at = first.next + count.length;
  const ciphertexts: Uint8Array[] = [];
  for (let i = 0; i < count.value; i++) {
    let len;
    try {
      len = decodeVarint(bytes, at, bytes.length);
    } catch {
      len = null;
    }
    if (!len || len.value < 1 || at + len.length + len.value > bytes.length) {
      throw new PathUnitError("batch: bad unit length");
    }
    at += len.length;
    ciphertexts.push(bytes.subarray(at, at + len.value));
    at += len.value;
  }
  if (at !== bytes.length) throw new PathUnitError("batch: trailing bytes");
  return { firstSeq: first.value, ciphertexts };
}
