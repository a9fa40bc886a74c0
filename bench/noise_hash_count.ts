/**
 * The hashing of one server-side Noise XK handshake, repeated: 4 HKDFs of
 * two outputs (three MixKeys and the Split) and 9 MixHashes of the handshake
 * hash with 32-200 bytes, on the WebAssembly BLAKE2s (`--impl wasm`, what the
 * server runs) or the TypeScript reference with the generic HMAC and HKDF
 * (`--impl ts`, what it ran before). For instruction counts: run it under
 * `valgrind --tool=callgrind` at two counts and divide the difference by the
 * difference of the counts. Prints CPU-µs per handshake's hashing too.
 *
 *   scripts/deno run --allow-all bench/noise_hash_count.ts [--impl wasm|ts] [--handshakes 5000]
 *
 * @module
 */
import process from "node:process";
import { blake2s } from "../src/crypto/noise/blake2s.ts";
import { hkdfFromHmac, hmacFromDigest } from "../src/crypto/noise/hmac.ts";
import { nativeBlake2s } from "../src/crypto/noise/native.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const impl = arg("impl", "wasm");
const count = Number(arg("handshakes", "5000"));
const tsHmac = (key: Uint8Array, ...parts: Uint8Array[]) => hmacFromDigest(blake2s, 64, key, parts);
const hkdf2 = impl === "ts"
  ? (ck: Uint8Array, ikm: Uint8Array) => hkdfFromHmac({ hmac: tsHmac }, ck, ikm, 2)
  : (ck: Uint8Array, ikm: Uint8Array) => nativeBlake2s.hkdf!(ck, ikm, 2);
const digest = impl === "ts" ? blake2s : nativeBlake2s.digest;

const key = crypto.getRandomValues(new Uint8Array(32));
const data = [32, 32, 48, 80, 32, 48, 200, 64, 120].map((n) =>
  crypto.getRandomValues(new Uint8Array(n))
);

function handshakeHashing(): void {
  let ck: Uint8Array = key;
  let h: Uint8Array = key;
  for (let i = 0; i < 4; i++) [ck] = hkdf2(ck, key);
  for (const d of data) h = digest(h, d);
}

for (let n = 0; n < 2000; n++) handshakeHashing(); // warm-up: JIT, WebAssembly tier-up
const start = process.cpuUsage();
for (let n = 0; n < count; n++) handshakeHashing();
const spent = process.cpuUsage(start);
console.log(
  `${impl}: ${((spent.user + spent.system) / count).toFixed(2)} CPU-µs per handshake's hashing`,
);
