/**
 * Byte helpers shared by every crypto and protocol module: hex, UTF-8,
 * concatenation and constant-time comparison. Depends on nothing of ours.
 *
 * @module
 */

const HEX = "0123456789abcdef";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The platform's hex codec (ES2026 `Uint8Array.prototype.toHex` and
 * `Uint8Array.fromHex`) where there is one: 4-17x faster than the loops below
 * (a handshake writes and reads some ten hex fields; Noise message 2 alone is
 * ~700 digits). Browsers without it use the loops; the output is the same.
 */
const nativeHex = (() => {
  const proto = Uint8Array.prototype as { toHex?: (this: Uint8Array) => string };
  const ctor = Uint8Array as { fromHex?: (hex: string) => Uint8Array };
  return typeof proto.toHex === "function" && typeof ctor.fromHex === "function"
    ? { toHex: proto.toHex, fromHex: ctor.fromHex.bind(Uint8Array) }
    : null;
})();

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  if (nativeHex !== null && bytes instanceof Uint8Array) return nativeHex.toHex.call(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    out += HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

/** Error thrown for malformed hex input. */
export class HexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HexError";
  }
}

function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48; // 0-9
  if (code >= 97 && code <= 102) return code - 87; // a-f
  if (code >= 65 && code <= 70) return code - 55; // A-F
  return -1;
}

/**
 * Decodes hex (either case). When `expectedLength` is given the result must
 * have exactly that many bytes.
 */
export function fromHex(hex: string, expectedLength?: number): Uint8Array {
  if (hex.length % 2 !== 0) throw new HexError("hex string has odd length");
  let out: Uint8Array;
  try {
    // The native decoder throws a SyntaxError on any non-hex character; the
    // loop below then finds it and throws our HexError.
    out = nativeHex === null ? decodeHex(hex) : nativeHex.fromHex(hex);
  } catch {
    out = decodeHex(hex);
  }
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new HexError(`expected ${expectedLength} bytes of hex, got ${out.length}`);
  }
  return out;
}

function decodeHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = nibble(hex.charCodeAt(2 * i));
    const lo = nibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new HexError("invalid hex character");
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** UTF-8 encoding of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strict UTF-8 decoding (throws on invalid sequences). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Compares two byte arrays in time that depends only on their lengths,
 * never on their contents. Use for secrets, MACs and tokens.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Little-endian u32 as 4 bytes. */
export function u32le(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0, true);
  return out;
}

/** Little-endian u64 as 8 bytes. */
export function u64le(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return out;
}

/** Overwrites `bytes` with zeros (best effort: the JS engine may hold copies). */
export function wipe(bytes: Uint8Array): void {
  bytes.fill(0);
}
