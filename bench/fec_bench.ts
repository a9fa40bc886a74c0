/**
 * FEC (RaptorQ, `raptorq` 1.7.24 WASM) costs: encode and decode of a 64 KiB
 * object (1152-byte symbols, overhead 0.55 = three paths) in-process and in
 * the permission-less Worker, the fixed cost of a small object, and what the
 * Worker hop adds (the same tiny object both ways). Decode is measured twice:
 * with every source symbol present (concatenation, no RaptorQ) and with as
 * many source symbols lost as there are repair symbols (a full RaptorQ
 * decode from exactly K symbols, the worst case the overhead allows).
 *
 * Run: `scripts/deno task bench` (needs no permissions of its own).
 *
 * @module
 */
import {
  FecDecoder,
  FecEncoder,
  InProcessRaptorq,
  parseFecPacket,
  type RaptorqEngine,
  WorkerRaptorq,
} from "../src/fec/mod.ts";

const SIZE = 65_536;
const OPTIONS = { repairOverhead: 0.55, symbolSize: 1152 };
const data = crypto.getRandomValues(new Uint8Array(SIZE));
const tiny = crypto.getRandomValues(new Uint8Array(100));

const engines: [string, RaptorqEngine][] = [
  ["in-process", await InProcessRaptorq.create()],
  ["worker", new WorkerRaptorq()],
];

for (const [label, engine] of engines) {
  const enc = new FecEncoder(engine);
  const packets = await enc.encode(1, data, OPTIONS);
  const k = packets.filter((p) => parseFecPacket(p).esi < Math.ceil(SIZE / 1152)).length;
  const lossy = packets.slice(packets.length - k); // the repair ones plus the last sources
  let id = 0;

  Deno.bench(`fec encode 64 KiB (${label})`, { group: "fec encode 64 KiB" }, async () => {
    await enc.encode(++id, data, OPTIONS);
  });

  Deno.bench(`fec decode 64 KiB, no loss (${label})`, { group: "fec decode 64 KiB" }, async () => {
    const dec = new FecDecoder(engine);
    for (const p of packets.slice(0, k)) await dec.push(p);
  });

  Deno.bench(
    `fec decode 64 KiB, K symbols after loss (${label})`,
    { group: "fec decode 64 KiB" },
    async () => {
      const dec = new FecDecoder(engine);
      let out: Uint8Array | null = null;
      for (const p of lossy) out = (await dec.push(p)) ?? out;
      if (!out) throw new Error("did not decode");
    },
  );

  Deno.bench(`fec encode 100 B object (${label})`, { group: "fec hop" }, async () => {
    await enc.encode(++id, tiny, { repairOverhead: 0.55, symbolSize: 64 });
  });
}

globalThis.addEventListener("unload", () => {
  for (const [, engine] of engines) engine.close();
});
