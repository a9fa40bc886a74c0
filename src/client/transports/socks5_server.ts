/**
 * The server half of a SOCKS5 handshake (RFC 1928 CONNECT with RFC 1929
 * username/password), enough for the in-process bridges whose only client is
 * our own HTTP client: the credentials are random per route, so another
 * local user cannot borrow the bridge.
 *
 * @module
 */
import { parseSocksAddress, type SocksAddress } from "../../proto/mod.ts";

/** Reads exact byte counts from a connection, keeping what it read beyond. */
export class ExactReader {
  readonly #conn: Deno.Conn;
  #buffer = new Uint8Array(0);
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  /** Reads until at least `n` bytes are buffered; null when the peer closed first. */
  async #fill(n: number): Promise<boolean> {
    const chunk = new Uint8Array(4096);
    while (this.#buffer.length < n) {
      const got = await this.#conn.read(chunk);
      if (got === null) return false;
      const joined = new Uint8Array(this.#buffer.length + got);
      joined.set(this.#buffer);
      joined.set(chunk.subarray(0, got), this.#buffer.length);
      this.#buffer = joined;
    }
    return true;
  }
  /** The next `n` bytes; throws when the peer closed before. */
  async exactly(n: number): Promise<Uint8Array> {
    if (!(await this.#fill(n))) throw new Error("SOCKS5 client closed mid-handshake");
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return out;
  }
  /** Reads a SOCKS5 address (the form is self-delimiting). */
  async address(): Promise<{ address: SocksAddress; bytes: Uint8Array }> {
    for (let want = 2;;) {
      if (!(await this.#fill(want))) throw new Error("SOCKS5 client closed mid-handshake");
      const address = parseSocksAddress(this.#buffer);
      if (address) return { address, bytes: await this.exactly(address.length) };
      want = this.#buffer.length + 1;
    }
  }
  /** Bytes read past the handshake (the client's first data, if it did not wait). */
  rest(): Uint8Array {
    const out = this.#buffer;
    this.#buffer = new Uint8Array(0);
    return out;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  // Constant time over the expected length: the credentials are a secret.
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

/** SOCKS5 reply codes used here. */
export const SocksReply = {
  succeeded: 0,
  generalFailure: 1,
  hostUnreachable: 4,
  connectionRefused: 5,
  commandNotSupported: 7,
} as const;

/** Sends a CONNECT reply (bound address 0.0.0.0:0: nobody reads it). */
export async function socksReply(conn: Deno.Conn, code: number): Promise<void> {
  await conn.write(new Uint8Array([5, code, 0, 1, 0, 0, 0, 0, 0, 0]));
}

/**
 * Runs the handshake up to the CONNECT request; returns the requested
 * address (and its raw bytes) or throws after answering the client's error.
 * The caller sends the reply once it knows whether the upstream opened.
 */
export async function acceptSocks5(
  conn: Deno.Conn,
  reader: ExactReader,
  credentials: { username: Uint8Array; password: Uint8Array },
): Promise<{ address: SocksAddress; bytes: Uint8Array }> {
  const [version, count] = await reader.exactly(2);
  if (version !== 5) throw new Error(`not SOCKS5 (version ${version})`);
  const methods = await reader.exactly(count);
  if (!methods.includes(2)) {
    await conn.write(new Uint8Array([5, 0xff]));
    throw new Error("the SOCKS5 client offered no username/password method");
  }
  await conn.write(new Uint8Array([5, 2]));
  const [, userLength] = await reader.exactly(2);
  const user = await reader.exactly(userLength);
  const [passLength] = await reader.exactly(1);
  const pass = await reader.exactly(passLength);
  // Both compared, always: no early exit on the first mismatch.
  const userOk = equalBytes(user, credentials.username);
  const passOk = equalBytes(pass, credentials.password);
  if (!(userOk && passOk)) {
    await conn.write(new Uint8Array([1, 1]));
    throw new Error("SOCKS5 credentials refused");
  }
  await conn.write(new Uint8Array([1, 0]));
  const [v, command] = await reader.exactly(3);
  if (v !== 5 || command !== 1) {
    await socksReply(conn, SocksReply.commandNotSupported);
    throw new Error(`SOCKS5 command ${command} not supported (CONNECT only)`);
  }
  return await reader.address();
}
