/**
 * The server's Noise static keys. Rotation (several active versions, newest
 * first) lives behind this seam; handshakes try every active key.
 *
 * @module
 */

// noble, not node:crypto: the web client bundles this module (src/web/browser has no createHash).
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
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

/** What {@link describeNoiseKeyForAck} returns: the key's ML-DSA key by digest. */
export interface AckNoiseKeyDescription {
  readonly version: number;
  readonly public: string;
  readonly valid_after: string;
  readonly rotates_at: string;
  readonly expires_at: string;
  /** Hex SHA-256 of the version's ML-DSA-65 public key (absent without one). */
  readonly pq_signing_sha256?: string;
}

const ackDescriptions = new WeakMap<NoiseKey, AckNoiseKeyDescription>();

/**
 * The description of a key in the handshake Ack: as {@link describeNoiseKey}
 * but the 1,952-byte ML-DSA-65 public key replaced by its SHA-256 (64 hex
 * characters instead of 3,904 per key in every Ack, classical handshakes
 * included). A client compares it with the key it pinned and fetches the key
 * itself from `/api/server-info` when it differs. Made once per key object.
 */
export function describeNoiseKeyForAck(
  key: NoiseKey,
  toHex: (b: Uint8Array) => string,
): AckNoiseKeyDescription {
  let description = ackDescriptions.get(key);
  if (description === undefined) {
    const full = describeNoiseKey(key, toHex);
    description = Object.freeze({
      version: full.version,
      public: full.public,
      valid_after: full.valid_after,
      rotates_at: full.rotates_at,
      expires_at: full.expires_at,
      ...(key.pqSigning ? { pq_signing_sha256: bytesToHex(sha256(key.pqSigning.publicKey)) } : {}),
    });
    ackDescriptions.set(key, description);
  }
  return description;
}
