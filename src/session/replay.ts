/**
 * Remembers first handshake messages for a while so a recorded Hello cannot
 * be played again (its ephemeral key makes every honest Hello unique).
 *
 * Entries are a fixed-size digest of the message, never the message itself,
 * and are only added for Hellos that already passed the key proof and Noise
 * message 1. An entry is never dropped while it is inside its window: when
 * the cache is full of live entries it says so, and the handshake refuses
 * Hellos that need it (IK) instead of forgetting one that could be replayed.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { blake3 } from "../crypto/mod.ts";

/** BLAKE3's chunk length: up to here `blake3` runs its one-chunk path. */
const BLAKE3_CHUNK_LEN = 1024;

/** What {@linkcode ReplayCache.check} found. */
export type ReplayVerdict =
  /** Not seen within the window; now remembered. */
  | "fresh"
  /** Seen within the window: a replay. */
  | "replay"
  /** Not seen, but every slot holds a live entry: not remembered. */
  | "full";

/** Bounded, time-limited set of seen handshake messages. */
export class ReplayCache {
  #seen = new Map<string, number>();
  #ttlMs: number;
  #max: number;
  #now: () => number;
  #refusedFull = 0;

  /**
   * @param ttlMs how long a message is remembered; at least the freshness
   *   window of first messages plus clock skew, so nothing replayable expires.
   * @param max most messages remembered at once.
   */
  constructor(ttlMs: number, max = 100_000, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = now;
  }

  /** Checks `message` and remembers it when it is fresh and there is room. */
  check(message: Uint8Array): ReplayVerdict {
    const now = this.#now();
    const key = replayKey(message);
    const seenAt = this.#seen.get(key);
    if (seenAt !== undefined && now - seenAt < this.#ttlMs) return "replay";
    this.#seen.delete(key);
    // Map keeps insertion order: the oldest entries come first. Only expired ones go.
    for (const [k, t] of this.#seen) {
      if (now - t < this.#ttlMs) break;
      this.#seen.delete(k);
    }
    if (this.#seen.size >= this.#max) {
      this.#refusedFull++;
      return "full";
    }
    this.#seen.set(key, now);
    return "fresh";
  }

  /** Messages remembered now (live or not yet swept). */
  get size(): number {
    return this.#seen.size;
  }

  /** How many checks found the cache full of live entries. */
  get refusedFull(): number {
    return this.#refusedFull;
  }
}

/**
 * The key a message is remembered by: 16 bytes of a digest as base64, 24
 * characters whatever the message size (collisions at 2^-64 after 2^32 messages).
 * A classical message 1 fits one BLAKE3 chunk, hashed in JavaScript without
 * the native hash object `createHash` makes per call (2.3 vs 6.2 µs at 48 B);
 * longer ones (a hybrid's, with its ML-KEM key) keep node:crypto's SHA-256,
 * faster there. The length picks the hash, so one message always has one key.
 */
export function replayKey(message: Uint8Array): string {
  if (message.length > BLAKE3_CHUNK_LEN) {
    return createHash("sha256").update(message).digest().subarray(0, 16).toString("base64");
  }
  const digest = blake3(message, 16);
  let binary = "";
  for (let i = 0; i < digest.length; i++) binary += String.fromCharCode(digest[i]);
  return btoa(binary);
}
