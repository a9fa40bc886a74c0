/**
 * Shadowsocks AEAD (SIP004) framing costs: sealing and opening 64 KiB (four
 * full chunks) with each method, as the listener and the SDK's client do per
 * read. With the transports scenario of `bench load` this tells the framing's
 * share of the Shadowsocks path (docs/PERFORMANCE.md).
 *
 * Run: `scripts/deno bench bench/shadowsocks_bench.ts`
 */
import {
  ChunkOpener,
  ChunkSealer,
  SHADOWSOCKS_METHODS,
  shadowsocksKey,
} from "../src/crypto/shadowsocks/mod.ts";

const DATA = new Uint8Array(64 * 1024).fill(0x5a);

for (const method of SHADOWSOCKS_METHODS) {
  const key = shadowsocksKey(method, "bench-password");
  const sealer = new ChunkSealer(key);
  const opener = new ChunkOpener(key);
  opener.push(sealer.salt);
  Deno.bench({
    name: `${method}: seal + open 64 KiB`,
    group: "shadowsocks",
    baseline: method === "chacha20-ietf-poly1305",
    fn() {
      for (const chunk of sealer.seal(DATA)) opener.push(chunk);
    },
  });
  const sealOnly = new ChunkSealer(key);
  Deno.bench({
    name: `${method}: seal 64 KiB`,
    group: "shadowsocks seal",
    fn() {
      sealOnly.seal(DATA);
    },
  });
}
