/**
 * Post-quantum primitives: ML-KEM-768 (FIPS 203) and ML-DSA-65 (FIPS 204)
 * behind one async interface, on WebCrypto (native, the default) or
 * @noble/post-quantum (portable). Both derive the same keys from the same
 * seeds and accept each other's ciphertexts and signatures.
 *
 * ```ts
 * const { kem, signer } = pqSuite();
 * const server = await kem.generateKeyPair();
 * const { ciphertext, sharedSecret } = await kem.encapsulate(server.publicKey);
 * const same = await kem.decapsulate(server, ciphertext); // === sharedSecret
 * const id = await signer.generateKeyPair();
 * const sig = await signer.sign(id, domainMessage("commucat/example", sharedSecret));
 * ```
 *
 * @module
 */

import { nobleKem, nobleSigner } from "./noble.ts";
import { type PqBackend, PqError, type PqSuite } from "./types.ts";
import { webCryptoKem, webCryptoSigner } from "./webcrypto.ts";

export {
  type Encapsulation,
  type Kem,
  type KemKeyPair,
  ML_DSA_65,
  ML_KEM_768,
  type PqBackend,
  PqError,
  type PqErrorCode,
  type PqSuite,
  type SignatureKeyPair,
  type Signer,
} from "./types.ts";
export { signDeterministic } from "./noble.ts";

const SUITES: Readonly<Record<PqBackend, PqSuite>> = Object.freeze({
  webcrypto: Object.freeze({ backend: "webcrypto", kem: webCryptoKem, signer: webCryptoSigner }),
  noble: Object.freeze({ backend: "noble", kem: nobleKem, signer: nobleSigner }),
});

/** The ML-KEM-768 + ML-DSA-65 suite on `backend` (default `webcrypto`). */
export function pqSuite(backend: PqBackend = "webcrypto"): PqSuite {
  const suite = SUITES[backend];
  if (suite === undefined) {
    throw new PqError("invalid-argument", 'pq backend must be "webcrypto" or "noble"');
  }
  return suite;
}

const encoder = new TextEncoder();

/**
 * `domain ‖ 0x00 ‖ message`: what is signed, so a signature made for one
 * purpose never verifies for another. It stands in for ML-DSA's context
 * string, which WebCrypto does not expose. `domain` is ASCII without NUL.
 */
export function domainMessage(domain: string, message: Uint8Array): Uint8Array {
  if (!/^[\x21-\x7e]{1,64}$/.test(domain)) {
    throw new PqError("invalid-argument", "signature domain must be 1-64 printable ASCII bytes");
  }
  const prefix = encoder.encode(domain);
  const out = new Uint8Array(prefix.length + 1 + message.length);
  out.set(prefix);
  out.set(message, prefix.length + 1);
  return out;
}
