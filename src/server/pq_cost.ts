/**
 * What one post-quantum hybrid Hello reply costs this server in CPU: an
 * ML-KEM-768 encapsulation and an ML-DSA-65 signature. Measured once at
 * start, when nothing else runs (so wall time is CPU time), and charged per
 * hybrid Hello against `server.pq_handshake_cpu_percent` by the handshake gate.
 *
 * @module
 */
import { pqSuite } from "../crypto/pq/mod.ts";

/** Median milliseconds of `runs` sequential encapsulate + sign pairs (after one warm-up). */
export async function measureHybridReplyMs(runs = 5): Promise<number> {
  const { kem, signer } = pqSuite();
  const peer = await kem.generateKeyPair();
  const identity = await signer.generateKeyPair();
  const hash = new Uint8Array(32);
  const once = async () => {
    const started = performance.now();
    await kem.encapsulate(peer.publicKey);
    await signer.sign(identity, hash);
    return performance.now() - started;
  };
  await once();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(await once());
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}
