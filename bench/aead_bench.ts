/**
 * ChaCha20-Poly1305 as the session transport uses it: one in-place seal and
 * one in-place open per iteration (what the server spends per delivered 1:1
 * message), at 64 B, 160 B and 1 KiB, through a keyed CipherState pair.
 *
 * Run: `scripts/deno bench bench/aead_bench.ts`
 *
 * @module
 */

import { CipherState } from "../src/crypto/noise/cipher_state.ts";
import { nativeChaChaPoly } from "../src/crypto/noise/native.ts";
import { nobleChaChaPoly } from "../src/crypto/noise/noble.ts";
import type { Cipher } from "../src/crypto/noise/primitives.ts";
import { wasmChaChaPoly } from "../src/crypto/noise/wasm_chacha_poly.ts";

const CIPHERS: [string, Cipher][] = [
  ["native", nativeChaChaPoly],
  ["wasm", wasmChaChaPoly],
  ["noble", nobleChaChaPoly],
];
const KEY = crypto.getRandomValues(new Uint8Array(32));
const NO_AD = new Uint8Array(0);

for (const size of [64, 160, 1024]) {
  const plaintext = crypto.getRandomValues(new Uint8Array(size));
  for (const [backend, cipher] of CIPHERS) {
    const send = new CipherState(cipher);
    const recv = new CipherState(cipher);
    send.initializeKey(KEY);
    recv.initializeKey(KEY);
    const buf = new Uint8Array(size + 16);
    Deno.bench({
      name: `seal+open ${size} B (${backend})`,
      group: `seal+open ${size} B`,
      baseline: backend === "native",
      fn: () => {
        buf.set(plaintext);
        const sealed = send.encryptInPlace(NO_AD, buf, 0, size);
        recv.decryptInPlace(NO_AD, buf.subarray(0, sealed));
      },
    });
  }
}
