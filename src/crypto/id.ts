/**
 * Identifier generation (upstream `util::generate_id`):
 * `hex(BLAKE3(utf8(ctx) || u128_le(unix_time_nanos)))`, 64 hex chars.
 *
 * @module
 */

import { blake3 } from "./blake3.ts";
import { concatBytes, toHex, utf8 } from "./bytes.ts";

const U128_MAX = (1n << 128n) - 1n;
/** The sub-millisecond part of the next {@link nowUnixNanos} (0..999,999). */
let counter = 0;

function nextSubMillisecond(): number {
  const sub = counter;
  counter = (counter + 1) % 1_000_000;
  return sub;
}

/**
 * Current Unix time in nanoseconds. JS clocks only give milliseconds, so the sub-millisecond
 * part is a per-process counter (mod 10^6) incremented on every call: two calls within the same
 * millisecond return different values (unless 10^6 calls share one millisecond). The value is
 * not guaranteed monotonic across millisecond boundaries.
 */
export function nowUnixNanos(): bigint {
  const sub = nextSubMillisecond();
  return BigInt(Date.now()) * 1_000_000n + BigInt(sub);
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

const TWO_32 = 2 ** 32;

/**
 * Writes `ms` × 10⁶ + `sub` (Unix nanoseconds, as {@link nowUnixNanos} makes
 * them) at `offset` as a little-endian u128 into zeroed bytes, in Number
 * arithmetic: the value exceeds 2^53, and the BigInt path (a BigInt per step,
 * the range checks and two `setBigUint64`) is most of an id's cost beside its
 * BLAKE3. Every step stays below 2^53, so it is exact. False (nothing written) when `ms` is
 * negative or no integer, `sub` outside 0..999,999, or the value past 2^64
 * (the year 2554).
 * Exported for its test against {@link u128le}.
 */
export function writeUnixNanosLe(
  out: Uint8Array,
  offset: number,
  ms: number,
  sub: number,
): boolean {
  if (!Number.isSafeInteger(ms) || ms < 0) return false;
  if (!Number.isInteger(sub) || sub < 0 || sub >= 1_000_000) return false;
  const msHigh = Math.floor(ms / TWO_32);
  // < 2^32 × 10^6 + 10^6 < 2^53.
  const low = (ms - msHigh * TWO_32) * 1_000_000 + sub;
  const lowWord = low % TWO_32;
  const highWord = msHigh * 1_000_000 + (low - lowWord) / TWO_32;
  if (highWord >= TWO_32) return false;
  for (let i = 0; i < 4; i++) {
    out[offset + i] = (lowWord >>> (8 * i)) & 0xff;
    out[offset + 4 + i] = (highWord >>> (8 * i)) & 0xff;
  }
  return true;
}

const encoder = new TextEncoder();

/** 64-hex-char identifier for `ctx` at `nowNanos` (default {@link nowUnixNanos}). */
export function generateId(ctx: string, nowNanos?: bigint): string {
  if (nowNanos === undefined) {
    // The default clock without a BigInt: ctx's UTF-8 (at most 3 bytes per
    // UTF-16 unit) and the 16 time bytes written into one array.
    const sub = nextSubMillisecond();
    const input = new Uint8Array(ctx.length * 3 + 16);
    const { written } = encoder.encodeInto(ctx, input);
    const ms = Date.now();
    if (writeUnixNanosLe(input, written, ms, sub)) {
      return toHex(blake3(input.subarray(0, written + 16)));
    }
    nowNanos = BigInt(ms) * 1_000_000n + BigInt(sub); // u128le says what is wrong with it
  }
  return toHex(blake3(concatBytes(utf8(ctx), u128le(nowNanos))));
}
