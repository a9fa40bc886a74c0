/**
 * The server end of Tor's Extended ORPort (proposals 196 and 217): how a PT
 * server child hands us each decrypted connection together with the real
 * client's address. Plain `TOR_PT_ORPORT` would make every client look like
 * 127.0.0.1, breaking per-client connection caps and rate limits.
 *
 * Wire, per connection (the PT is the client here):
 * 1. we send the auth types we accept, `0x01` (SAFE_COOKIE), then `0x00`;
 * 2. it picks one (`0x01`) and sends a 32-byte nonce;
 * 3. we send HMAC-SHA256(cookie, "ExtORPort authentication server-to-client
 *    hash" ‖ client nonce ‖ server nonce) ‖ our 32-byte nonce;
 * 4. it sends the same HMAC over "…client-to-server hash…"; we answer `0x01`
 *    (match, compared in constant time) or `0x00` and close;
 * 5. commands `type(2) ‖ length(2) ‖ body`: USERADDR (1) `ip:port`,
 *    TRANSPORT (2) the method's name, DONE (0); unknown ones are ignored;
 * 6. we answer OKAY (0x1000) or DENY (0x1001); after OKAY the connection
 *    carries the client's bytes.
 *
 * The cookie file (`! Extended ORPort Auth Cookie !\n` ‖ 32 random bytes,
 * mode 0600) is what keeps other local processes off the port.
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { parsePtAddress } from "./protocol.ts";

/** The cookie file's 32-byte header. */
export const COOKIE_HEADER = "! Extended ORPort Auth Cookie !\n";
const SAFE_COOKIE = 0x01;
const SERVER_HASH_LABEL = "ExtORPort authentication server-to-client hash";
const CLIENT_HASH_LABEL = "ExtORPort authentication client-to-server hash";

/** Extended ORPort commands. */
export const ExtOrCommand = {
  DONE: 0x0000,
  USERADDR: 0x0001,
  TRANSPORT: 0x0002,
  OKAY: 0x1000,
  DENY: 0x1001,
} as const;

/** Largest command body we read (an address or a transport name is far smaller). */
const MAX_BODY = 1024;
/** Most commands before DONE. */
const MAX_COMMANDS = 64;

/** The handshake failed: the peer is not our PT (or it broke the protocol). */
export class ExtOrPortError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExtOrPortError";
  }
}

/** Writes a fresh cookie file (0600, replaced atomically); returns the cookie. */
export async function writeAuthCookie(path: string): Promise<Uint8Array> {
  const cookie = crypto.getRandomValues(new Uint8Array(32));
  const header = new TextEncoder().encode(COOKIE_HEADER);
  const bytes = new Uint8Array(header.length + cookie.length);
  bytes.set(header);
  bytes.set(cookie, header.length);
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeFile(tmp, bytes, { mode: 0o600, createNew: true });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
  return cookie;
}

/** HMAC-SHA256(cookie, label ‖ client nonce ‖ server nonce). */
export function cookieHash(
  cookie: Uint8Array,
  label: "server" | "client",
  clientNonce: Uint8Array,
  serverNonce: Uint8Array,
): Uint8Array {
  const h = createHmac("sha256", cookie);
  h.update(label === "server" ? SERVER_HASH_LABEL : CLIENT_HASH_LABEL);
  h.update(clientNonce);
  h.update(serverNonce);
  return new Uint8Array(h.digest());
}

/** Reads exact byte counts from a connection, keeping what was read beyond. */
class ExactReader {
  #buf = new Uint8Array(0);
  readonly #conn: Deno.Conn;
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async read(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      const chunk = new Uint8Array(Math.max(4096, n));
      const got = await this.#conn.read(chunk);
      if (got === null) throw new ExtOrPortError("closed during the Extended ORPort handshake");
      const next = new Uint8Array(this.#buf.length + got);
      next.set(this.#buf);
      next.set(chunk.subarray(0, got), this.#buf.length);
      this.#buf = next;
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Bytes read past the handshake (the client's first bytes, if the PT did not wait). */
  get leftover(): Uint8Array {
    return this.#buf;
  }
}

/** What the PT told us about one connection. */
export interface ExtOrPortHello {
  /** USERADDR: the client as the PT saw it (null when the PT did not say). */
  readonly userAddr: Deno.NetAddr | null;
  /** TRANSPORT: the method that carried it. */
  readonly transport: string | null;
  /** Client bytes that arrived with the handshake. */
  readonly leftover: Uint8Array;
  /** Answers OKAY (the connection then carries client bytes) or DENY. */
  reply(ok: boolean): Promise<void>;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/**
 * Runs the server side of the handshake up to DONE; the caller then decides
 * (caps) and calls `reply`. Throws {@link ExtOrPortError} for a peer that
 * does not know the cookie or breaks the protocol (close the socket).
 */
export async function acceptExtOrPort(
  conn: Deno.Conn,
  cookie: Uint8Array,
): Promise<ExtOrPortHello> {
  const reader = new ExactReader(conn);
  await writeAll(conn, new Uint8Array([SAFE_COOKIE, 0x00]));
  const [chosen] = await reader.read(1);
  if (chosen !== SAFE_COOKIE) throw new ExtOrPortError(`unsupported auth type ${chosen}`);
  const clientNonce = await reader.read(32);
  const serverNonce = crypto.getRandomValues(new Uint8Array(32));
  const serverHash = cookieHash(cookie, "server", clientNonce, serverNonce);
  const hello = new Uint8Array(64);
  hello.set(serverHash);
  hello.set(serverNonce, 32);
  await writeAll(conn, hello);
  const clientHash = await reader.read(32);
  const expected = cookieHash(cookie, "client", clientNonce, serverNonce);
  if (!timingSafeEqual(clientHash, expected)) {
    await writeAll(conn, new Uint8Array([0x00])).catch(() => {});
    throw new ExtOrPortError("wrong auth cookie");
  }
  await writeAll(conn, new Uint8Array([0x01]));

  let userAddr: Deno.NetAddr | null = null;
  let transport: string | null = null;
  for (let i = 0;; i++) {
    if (i >= MAX_COMMANDS) throw new ExtOrPortError("too many Extended ORPort commands");
    const head = await reader.read(4);
    const type = (head[0] << 8) | head[1];
    const length = (head[2] << 8) | head[3];
    if (length > MAX_BODY) throw new ExtOrPortError(`command body of ${length} bytes`);
    const body = new TextDecoder().decode(await reader.read(length));
    if (type === ExtOrCommand.DONE) break;
    if (type === ExtOrCommand.USERADDR) {
      const a = parsePtAddress(body);
      if (!a) throw new ExtOrPortError("malformed USERADDR");
      userAddr = { transport: "tcp", hostname: a.hostname, port: a.port };
    } else if (type === ExtOrCommand.TRANSPORT) {
      transport = body;
    }
    // Other commands are ignored, as the proposal asks.
  }
  return {
    userAddr,
    transport,
    leftover: reader.leftover,
    reply: (ok) => writeAll(conn, new Uint8Array([0x10, ok ? 0x00 : 0x01, 0x00, 0x00])),
  };
}
