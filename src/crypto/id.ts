/**
 * Identifier generation (upstream `util::generate_id`):
 * `hex(BLAKE3(utf8(ctx) || u128_le(unix_time_nanos)))`, 64 hex chars.
 *
 * @module
 */

import { blake3 } from "./blake3.ts";
import { concatBytes, toHex, utf8 } from "./bytes.ts";

const U128_MAX = (1n << 128n) - 1n;
let counter = 0n;

/**
 * Current Unix time in nanoseconds. JS clocks only give milliseconds, so the sub-millisecond
 * part is a per-process counter (mod 10^6) incremented on every call: two calls within the same
 * millisecond return different values (unless 10^6 calls share one millisecond). The value is
 * not guaranteed monotonic across millisecond boundaries.
 */
export function nowUnixNanos(): bigint {
  const sub = counter;
  counter = (counter + 1n) % 1_000_000n;
  return BigInt(Date.now()) * 1_000_000n + sub;
}

/** Little-endian u128 as 16 bytes. */
export function u128le(n: bigint): Uint8Array {
  if (n < 0n || n > U128_MAX) throw new RangeError("value out of u128 range");
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, n), true);
  view.setBigUint64(8, n >> 64n, true);
  return out;
}

/** 64-hex-char identifier for `ctx` at `nowNanos` (default {@link nowUnixNanos}). */
export function generateId(ctx: string, nowNanos: bigint = nowUnixNanos()): string {
  return toHex(blake3(concatBytes(utf8(ctx), u128le(nowNanos))));
}
