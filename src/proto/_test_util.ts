/**
 * Test helpers for src/proto: a small seeded PRNG and random generators.
 * Not exported from mod.ts.
 *
 * @module
 */

import { FRAME_TYPES, type FrameType, isControlType } from "./frame_type.ts";
import { controlFrame, type Frame } from "./frame.ts";

/** mulberry32: a tiny, fast, seeded 32-bit PRNG (deterministic test input). */
export class Prng {
  #state: number;

  /** Seeds the generator. */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Next uniformly distributed u32. */
  u32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer in [0, n) for n ≤ 2^32. */
  below(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** Integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** Lower-case hex of `n` random bytes. */
  hex(n: number): string {
    let out = "";
    for (const b of this.bytes(n)) out += b.toString(16).padStart(2, "0");
    return out;
  }
}

/** A u32 biased towards varint length boundaries. */
export function randomU32(rng: Prng): number {
  switch (rng.below(4)) {
    case 0:
      return rng.below(128);
    case 1:
      return rng.below(1 << 14);
    case 2:
      return rng.pick([0, 127, 128, 16383, 16384, 2 ** 21 - 1, 2 ** 28, 0xffff_ffff]);
    default:
      return rng.u32();
  }
}

const CHARS = ["a", "Z", "0", " ", '"', "\\", "/", "\n", "\u0001", "é", "€", "😀", "\u2028"];

/** A random string including escapes and multi-byte characters. */
export function randomString(rng: Prng, maxLength = 12): string {
  let out = "";
  const length = rng.below(maxLength + 1);
  for (let i = 0; i < length; i++) out += rng.pick(CHARS);
  return out;
}

/** A random JSON value (numbers stay in the safe range and are never -0). */
export function randomJson(rng: Prng, depth = 3): unknown {
  const kind = rng.below(depth > 0 ? 7 : 5);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.5) ? rng.range(-1_000_000, 1_000_000) || 0 : (rng.u32() / 7) + 0.5;
    case 3:
      return randomString(rng);
    case 4:
      return rng.u32();
    case 5: {
      const out: unknown[] = [];
      for (let i = rng.below(4); i > 0; i--) out.push(randomJson(rng, depth - 1));
      return out;
    }
    default: {
      const out: Record<string, unknown> = {};
      for (let i = rng.below(4); i > 0; i--) out[randomString(rng, 6)] = randomJson(rng, depth - 1);
      return out;
    }
  }
}

/** A random valid frame; control types carry random JSON. */
export function randomFrame(rng: Prng, maxPayload = 300): Frame {
  const type: FrameType = rng.pick(FRAME_TYPES);
  const channel = randomU32(rng);
  const sequence = randomU32(rng);
  if (isControlType(type)) return controlFrame(type, channel, sequence, randomJson(rng));
  return { type, channel, sequence, payload: rng.bytes(rng.below(maxPayload + 1)) };
}
