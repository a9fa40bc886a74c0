/**
 * The post-quantum primitives CommuCat uses, as small async interfaces so
 * callers do not care which implementation runs them: ML-KEM-768 (FIPS 203)
 * for key agreement and ML-DSA-65 (FIPS 204) for signatures.
 *
 * Private keys are always the seed form (64 bytes for ML-KEM, 32 for
 * ML-DSA): it is the only private form WebCrypto imports, it is what we store
 * on disk, and every implementation derives the same key from it.
 *
 * @module
 */

/** Which implementation runs the primitives. */
export type PqBackend = "webcrypto" | "noble";

/** ML-KEM-768 sizes in bytes. */
export const ML_KEM_768 = Object.freeze({
  /** Encapsulation (public) key. */
  publicKeyLength: 1184,
  /** Ciphertext an encapsulation produces. */
  ciphertextLength: 1088,
  /** Shared secret. */
  sharedSecretLength: 32,
  /** Private seed `d ‖ z`. */
  seedLength: 64,
  /** Encapsulation randomness `m` (deterministic encapsulation, vectors only). */
  randomnessLength: 32,
});

/** ML-DSA-65 sizes in bytes. */
export const ML_DSA_65 = Object.freeze({
  /** Public key. */
  publicKeyLength: 1952,
  /** Signature. */
  signatureLength: 3309,
  /** Private seed `ξ`. */
  seedLength: 32,
});

/** Why a post-quantum operation was refused. */
export type PqErrorCode = "invalid-argument" | "unsupported" | "decapsulate-failed";

/** A post-quantum operation was refused; the message names the field, never a secret. */
export class PqError extends Error {
  /** Machine-readable reason. */
  readonly code: PqErrorCode;

  constructor(code: PqErrorCode, message: string) {
    super(message);
    this.name = "PqError";
    this.code = code;
  }
}

/** An ML-KEM-768 key pair: the private seed and the encapsulation key derived from it. */
export interface KemKeyPair {
  /** 64-byte private seed. */
  readonly seed: Uint8Array;
  /** 1184-byte encapsulation key. */
  readonly publicKey: Uint8Array;
}

/** The result of an encapsulation. */
export interface Encapsulation {
  /** 1088-byte ciphertext, sent to the key's owner. */
  readonly ciphertext: Uint8Array;
  /** 32-byte shared secret, kept. */
  readonly sharedSecret: Uint8Array;
}

/** ML-KEM-768 key encapsulation. */
export interface Kem {
  /** `ML-KEM-768`. */
  readonly name: string;
  /** A key pair from fresh randomness. */
  generateKeyPair(): Promise<KemKeyPair>;
  /** The key pair of a 64-byte seed (deterministic: the same seed gives the same key). */
  keyPairFromSeed(seed: Uint8Array): Promise<KemKeyPair>;
  /**
   * Encapsulates a fresh shared secret to `publicKey`. `randomness` (32 bytes)
   * makes it deterministic, for test vectors; only the noble backend takes it.
   * Throws `PqError("invalid-argument")` for a malformed key.
   */
  encapsulate(publicKey: Uint8Array, randomness?: Uint8Array): Promise<Encapsulation>;
  /**
   * The shared secret of `ciphertext` under `keyPair`. A tampered ciphertext
   * does not throw (ML-KEM rejects implicitly): it yields an unrelated
   * secret, so the next AEAD fails. A wrong-size one throws `PqError`.
   */
  decapsulate(keyPair: KemKeyPair, ciphertext: Uint8Array): Promise<Uint8Array>;
}

/** An ML-DSA-65 key pair: the private seed and the public key derived from it. */
export interface SignatureKeyPair {
  /** 32-byte private seed. */
  readonly seed: Uint8Array;
  /** 1952-byte public key. */
  readonly publicKey: Uint8Array;
}

/**
 * ML-DSA-65 signatures with an empty context (WebCrypto has no context
 * parameter); callers separate domains with {@linkcode domainMessage}.
 */
export interface Signer {
  /** `ML-DSA-65`. */
  readonly name: string;
  /** A key pair from fresh randomness. */
  generateKeyPair(): Promise<SignatureKeyPair>;
  /** The key pair of a 32-byte seed (deterministic). */
  keyPairFromSeed(seed: Uint8Array): Promise<SignatureKeyPair>;
  /** Signs `message` (hedged: two signatures of one message differ). */
  sign(keyPair: SignatureKeyPair, message: Uint8Array): Promise<Uint8Array>;
  /** True when `signature` is valid for `message` under `publicKey`; false for any malformed input. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** One KEM and one signer on one backend. */
export interface PqSuite {
  /** The backend running both. */
  readonly backend: PqBackend;
  /** ML-KEM-768. */
  readonly kem: Kem;
  /** ML-DSA-65. */
  readonly signer: Signer;
}

/** Fails unless `bytes` is exactly `length` long (the message names the field, not its value). */
export function expectPqLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new PqError("invalid-argument", `${what} must be ${length} bytes`);
  }
}
