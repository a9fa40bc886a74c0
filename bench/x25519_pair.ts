/**
 * Two X25519 DHs on one peer key, as a Noise handshake's come (XK responder:
 * es and ee on the initiator's ephemeral), over 64 rotating peer keys, on the
 * native backend: CPU-µs per pair. What `nativeX25519`'s kept peer import saves.
 *
 *   scripts/deno run --allow-all bench/x25519_pair.ts
 *
 * @module
 */
import process from "node:process";
import { nativeX25519 } from "../src/crypto/noise/native.ts";

const a = nativeX25519.generateKeyPair();
const b = nativeX25519.generateKeyPair();
const peers = Array.from({ length: 64 }, () => nativeX25519.generateKeyPair().publicKey);
const pair = (peer: Uint8Array) => {
  nativeX25519.dh(a, peer);
  nativeX25519.dh(b, peer);
};
for (let i = 0; i < 2000; i++) pair(peers[i & 63]); // warm-up
const start = process.cpuUsage();
for (let i = 0; i < 10000; i++) pair(peers[i & 63]);
const spent = process.cpuUsage(start);
console.log(
  `${((spent.user + spent.system) / 10000).toFixed(1)} CPU-µs per pair of DHs on one peer key`,
);
