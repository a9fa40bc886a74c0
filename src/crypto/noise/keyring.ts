/**
 * The server's Noise static keys. Rotation (several active versions, newest
 * first) lives behind this seam; handshakes try every active key.
 *
 * @module
 */

import type { SignatureKeyPair } from "../pq/mod.ts";

/** One version of the server's Noise static key pair. */
export interface NoiseKey {
  version: number;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  /**
   * The ML-DSA-65 identity of this version, which signs hybrid (`hfs`)
   * handshakes; it rotates with the X25519 key. Absent on versions stored
   * before post-quantum handshakes existed.
   */
  pqSigning?: SignatureKeyPair | null;
  validAfter: Date;
  rotatesAt: Date;
  expiresAt: Date;
}

/** Source of the active Noise keys. */
export interface NoiseKeyring {
  /** Keys valid now, newest first (never empty while the server runs). */
  active(): NoiseKey[];
}

/** A keyring over a fixed list (tests, single-key deployments). */
export class StaticKeyring implements NoiseKeyring {
  #keys: NoiseKey[];
  constructor(keys: NoiseKey[]) {
    if (keys.length === 0) throw new Error("a keyring needs at least one key");
    this.#keys = [...keys].sort((a, b) => b.version - a.version);
  }
  active(): NoiseKey[] {
    return this.#keys;
  }
}

/** What {@link describeNoiseKey} returns. */
export interface NoiseKeyDescription {
  readonly version: number;
  readonly public: string;
  readonly valid_after: string;
  readonly rotates_at: string;
  readonly expires_at: string;
  readonly pq_signing_public?: string;
}

/**
 * Descriptions already made, per key object: every Ack carries them, and the
 * ML-DSA-65 public key alone is 1,952 bytes to hex-encode per handshake.
 */
const descriptions = new WeakMap<NoiseKey, NoiseKeyDescription>();

/**
 * The JSON description of a key clients see (server-info, Ack); made once per
 * key object (the key's fields do not change) and frozen, so callers share it.
 */
export function describeNoiseKey(
  key: NoiseKey,
  toHex: (b: Uint8Array) => string,
): NoiseKeyDescription {
  let description = descriptions.get(key);
  if (description === undefined) {
    description = Object.freeze({
      version: key.version,
      public: toHex(key.publicKey),
      valid_after: key.validAfter.toISOString(),
      rotates_at: key.rotatesAt.toISOString(),
      expires_at: key.expiresAt.toISOString(),
      ...(key.pqSigning ? { pq_signing_public: toHex(key.pqSigning.publicKey) } : {}),
    });
    descriptions.set(key, description);
  }
  return description;
}
