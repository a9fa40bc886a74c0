/**
 * Primitive-level costs, native against noble wherever both exist:
 * BLAKE2s and SHA-256 digests, ChaCha20-Poly1305 seal and open (each
 * alone) at 100 B, 1 KiB and 64 KiB, X25519 keygen, and the post-quantum pair
 * ML-KEM-768 and ML-DSA-65 (WebCrypto against @noble/post-quantum).
 *
 * The Noise-level numbers (a whole handshake, a transport message) are in
 * `noise_bench.ts`; this file says where that time goes.
 *
 * Run: `scripts/deno task bench` (needs no permissions of its own).
 *
 * @module
 */

import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { constantTimeEqual } from "../src/crypto/bytes.ts";
import {
  nativeBlake2s,
  nativeChaChaPoly,
  nativeSha256,
  nativeX25519,
} from "../src/crypto/noise/native.ts";
import {
  nobleBlake2s,
  nobleChaChaPoly,
  nobleSha256,
  nobleX25519,
} from "../src/crypto/noise/noble.ts";
import type { Cipher, Dh, Hash } from "../src/crypto/noise/primitives.ts";

const SIZES: [string, number][] = [["100 B", 100], ["1 KiB", 1024], ["64 KiB", 65536]];
const HASHES: [string, Hash, Hash][] = [
  ["BLAKE2s", nativeBlake2s, nobleBlake2s],
  ["SHA-256", nativeSha256, nobleSha256],
];
const CIPHERS: [string, Cipher][] = [["native", nativeChaChaPoly], ["noble", nobleChaChaPoly]];

for (const [label, size] of SIZES) {
  const data = crypto.getRandomValues(new Uint8Array(size));
  for (const [hashName, native, noble] of HASHES) {
    for (const [backend, hash] of [["native", native], ["noble", noble]] as const) {
      Deno.bench({
        name: `${hashName} ${label} (${backend})`,
        group: `${hashName} ${label}`,
        baseline: backend === "native",
        fn: () => {
          hash.digest(data);
        },
      });
    }
  }
}

// Seal and open are measured apart: the router opens once per message and
// seals once per recipient. A fixed nonce is fine here; nothing is secret.
const KEY = crypto.getRandomValues(new Uint8Array(32));
const NO_AD = new Uint8Array(0);
for (const [label, size] of SIZES) {
  const plaintext = crypto.getRandomValues(new Uint8Array(size));
  const sealed = nativeChaChaPoly.encrypt(KEY, 7n, NO_AD, plaintext);
  if (!constantTimeEqual(sealed, nobleChaChaPoly.encrypt(KEY, 7n, NO_AD, plaintext))) {
    throw new Error("native and noble ChaCha20-Poly1305 disagree");
  }
  for (
    const [op, run] of [
      ["seal", (c: Cipher) => c.encrypt(KEY, 7n, NO_AD, plaintext)],
      ["open", (c: Cipher) => c.decrypt(KEY, 7n, NO_AD, sealed)],
    ] as const
  ) {
    for (const [backend, cipher] of CIPHERS) {
      Deno.bench({
        name: `ChaCha20-Poly1305 ${op} ${label} (${backend})`,
        group: `ChaCha20-Poly1305 ${op} ${label}`,
        baseline: backend === "native",
        fn: () => {
          run(cipher);
        },
      });
    }
  }
}

// X25519 DH itself is in noise_bench.ts; keygen is the other half of each ephemeral.
const DHS: [string, Dh][] = [["native", nativeX25519], ["noble", nobleX25519]];
for (const [backend, dh] of DHS) {
  Deno.bench({
    name: `X25519 keygen (${backend})`,
    group: "X25519 keygen",
    baseline: backend === "native",
    fn: () => {
      dh.generateKeyPair();
    },
  });
}

// --- Post-quantum: WebCrypto (Deno's native, Rust) against @noble/post-quantum.

/** Key usages of the WICG "modern algorithms" KEM calls. */
type KemUsage = "encapsulateBits" | "decapsulateBits";

/** Those KEM calls as Deno 2.9 implements them; its lib types do not list them yet. */
interface KemSubtle {
  generateKey(
    algorithm: { name: string },
    extractable: boolean,
    keyUsages: KemUsage[],
  ): Promise<CryptoKeyPair>;
  importKey(
    format: "raw-public",
    keyData: BufferSource,
    algorithm: { name: string },
    extractable: boolean,
    keyUsages: KemUsage[],
  ): Promise<CryptoKey>;
  encapsulateBits(
    algorithm: { name: string },
    encapsulationKey: CryptoKey,
  ): Promise<{ sharedKey: ArrayBuffer; ciphertext: ArrayBuffer }>;
  decapsulateBits(
    algorithm: { name: string },
    decapsulationKey: CryptoKey,
    ciphertext: BufferSource,
  ): Promise<ArrayBuffer>;
}
const kem = crypto.subtle as unknown as KemSubtle;
const subtle = crypto.subtle;
const KEM = { name: "ML-KEM-768" };
const DSA = { name: "ML-DSA-65" };

const kemKeys = await kem.generateKey(KEM, false, ["encapsulateBits", "decapsulateBits"]);
const kemSample = await kem.encapsulateBits(KEM, kemKeys.publicKey);
const kemCiphertext = new Uint8Array(kemSample.ciphertext);
{
  const back = await kem.decapsulateBits(KEM, kemKeys.privateKey, kemCiphertext);
  if (!constantTimeEqual(new Uint8Array(back), new Uint8Array(kemSample.sharedKey))) {
    throw new Error("WebCrypto ML-KEM-768 round trip failed");
  }
}

const nobleKem = ml_kem768.keygen();
const nobleKemSample = ml_kem768.encapsulate(nobleKem.publicKey);
{
  // Cross-check: WebCrypto encapsulates to a noble key, noble decapsulates.
  const imported = await kem.importKey("raw-public", nobleKem.publicKey, KEM, true, [
    "encapsulateBits",
  ]);
  const sample = await kem.encapsulateBits(KEM, imported);
  const back = ml_kem768.decapsulate(new Uint8Array(sample.ciphertext), nobleKem.secretKey);
  if (!constantTimeEqual(back, new Uint8Array(sample.sharedKey))) {
    throw new Error("WebCrypto and noble ML-KEM-768 disagree");
  }
}

Deno.bench(
  "ML-KEM-768 keygen (WebCrypto)",
  { group: "ML-KEM-768 keygen", baseline: true },
  async () => {
    await kem.generateKey(KEM, false, ["encapsulateBits", "decapsulateBits"]);
  },
);
Deno.bench("ML-KEM-768 keygen (noble)", { group: "ML-KEM-768 keygen" }, () => {
  ml_kem768.keygen();
});
Deno.bench(
  "ML-KEM-768 encapsulate (WebCrypto)",
  { group: "ML-KEM-768 encapsulate", baseline: true },
  async () => {
    await kem.encapsulateBits(KEM, kemKeys.publicKey);
  },
);
Deno.bench("ML-KEM-768 encapsulate (noble)", { group: "ML-KEM-768 encapsulate" }, () => {
  ml_kem768.encapsulate(nobleKem.publicKey);
});
Deno.bench(
  "ML-KEM-768 decapsulate (WebCrypto)",
  { group: "ML-KEM-768 decapsulate", baseline: true },
  async () => {
    await kem.decapsulateBits(KEM, kemKeys.privateKey, kemCiphertext);
  },
);
Deno.bench("ML-KEM-768 decapsulate (noble)", { group: "ML-KEM-768 decapsulate" }, () => {
  ml_kem768.decapsulate(nobleKemSample.cipherText, nobleKem.secretKey);
});

const message = crypto.getRandomValues(new Uint8Array(200));
const dsaKeys = await subtle.generateKey(DSA, false, ["sign", "verify"]) as CryptoKeyPair;
const dsaSignature = await subtle.sign(DSA, dsaKeys.privateKey, message);
const nobleDsa = ml_dsa65.keygen();
const nobleDsaSignature = ml_dsa65.sign(message, nobleDsa.secretKey);
{
  // Cross-check: a WebCrypto verify of a noble signature.
  const imported = await subtle.importKey("raw-public", nobleDsa.publicKey, DSA, true, ["verify"]);
  if (!await subtle.verify(DSA, imported, nobleDsaSignature, message)) {
    throw new Error("WebCrypto rejects a noble ML-DSA-65 signature");
  }
}

Deno.bench("ML-DSA-65 sign (WebCrypto)", { group: "ML-DSA-65 sign", baseline: true }, async () => {
  await subtle.sign(DSA, dsaKeys.privateKey, message);
});
Deno.bench("ML-DSA-65 sign (noble)", { group: "ML-DSA-65 sign" }, () => {
  ml_dsa65.sign(message, nobleDsa.secretKey);
});
Deno.bench(
  "ML-DSA-65 verify (WebCrypto)",
  { group: "ML-DSA-65 verify", baseline: true },
  async () => {
    if (!await subtle.verify(DSA, dsaKeys.publicKey, dsaSignature, message)) throw new Error();
  },
);
Deno.bench("ML-DSA-65 verify (noble)", { group: "ML-DSA-65 verify" }, () => {
  if (!ml_dsa65.verify(nobleDsaSignature, message, nobleDsa.publicKey)) throw new Error();
});
