/**
 * MLS signatures (RFC 9420 §5.1.2): `SignWithLabel` / `VerifyWithLabel`
 * under each cipher suite's signature scheme. ECDSA signatures are DER and
 * public keys uncompressed SEC1 points, as RFC 9420 and ts-mls use them.
 *
 * @module
 */
import { ed448 } from "@noble/curves/ed448.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { concatBytes, utf8 } from "../bytes.ts";
import { verify as ed25519Verify } from "../ed25519.ts";
import { encodeOpaque } from "./tls.ts";

/** A signature scheme of an MLS cipher suite. */
export type MlsSignatureScheme = "Ed25519" | "Ed448" | "P256" | "P384" | "P521" | "ML-DSA-87";

/**
 * Signature scheme of each cipher suite this server can check: the seven of
 * RFC 9420 §17.1 and the post-quantum ones ts-mls implements (77–88:
 * ML-KEM / X-Wing KEMs, signing with Ed25519 or ML-DSA-87).
 */
export const MLS_SIGNATURE_SCHEMES: ReadonlyMap<number, MlsSignatureScheme> = new Map([
  [1, "Ed25519"],
  [2, "P256"],
  [3, "Ed25519"],
  [4, "Ed448"],
  [5, "P521"],
  [6, "Ed448"],
  [7, "P384"],
  ...[77, 78, 79, 80, 81, 82, 83, 84].map((id): [number, MlsSignatureScheme] => [id, "Ed25519"]),
  ...[85, 86, 87, 88].map((id): [number, MlsSignatureScheme] => [id, "ML-DSA-87"]),
]);

/** `SignContent` of RFC 9420 §5.1.2: `opaque label<V> = "MLS 1.0 " + label; opaque content<V>`. */
export function signContent(label: string, content: Uint8Array): Uint8Array {
  return concatBytes(encodeOpaque(utf8(`MLS 1.0 ${label}`)), encodeOpaque(content));
}

const ECDSA = { prehash: true, format: "der", lowS: false } as const;

/** Verifies a raw signature under `scheme`; false (never a throw) for anything malformed. */
export function verifySignature(
  scheme: MlsSignatureScheme,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    switch (scheme) {
      case "Ed25519":
        return ed25519Verify(signature, message, publicKey);
      case "Ed448":
        return ed448.verify(signature, message, publicKey);
      case "P256":
        return p256.verify(signature, message, publicKey, ECDSA);
      case "P384":
        return p384.verify(signature, message, publicKey, ECDSA);
      case "P521":
        return p521.verify(signature, message, publicKey, ECDSA);
      case "ML-DSA-87":
        return ml_dsa87.verify(signature, message, publicKey);
    }
  } catch {
    return false;
  }
}

/** `VerifyWithLabel(key, label, content, signature)` of RFC 9420 §5.1.2. */
export function verifyWithLabel(
  scheme: MlsSignatureScheme,
  publicKey: Uint8Array,
  label: string,
  content: Uint8Array,
  signature: Uint8Array,
): boolean {
  return verifySignature(scheme, publicKey, signContent(label, content), signature);
}
