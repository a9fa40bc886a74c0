import assert from "node:assert/strict";
import {
  createRaptorqEngine,
  FEC_HEADER_BYTES,
  FecBufferFullError,
  FecDecoder,
  FecEncoder,
  FecMalformedPacketError,
  FecObjectTooLargeError,
  FecOptionsError,
  FecUndecodableError,
  InProcessRaptorq,
  parseFecPacket,
  type RaptorqEngine,
  repairOverheadForPaths,
  repairSymbolCount,
  sourceSymbolCount,
  type WorkerRaptorq,
} from "./mod.ts";
import { prng, randomBytes, shuffled } from "./_test_util.ts";

const inProcess = await InProcessRaptorq.create();

/** Pushes packets in order; returns the first object that completes (and how many packets it took). */
async function feed(dec: FecDecoder, packets: Uint8Array[]): Promise<Uint8Array | null> {
  let out: Uint8Array | null = null;
  for (const p of packets) {
    const r = await dec.push(p);
    if (r) {
      assert.equal(out, null, "an object completes once");
      out = r;
    }
  }
  return out;
}

for (const kind of ["inprocess", "worker"] as const) {
  Deno.test(`fec (${kind}): round trip of several sizes, no loss and systematic`, async () => {
    const engine = await createRaptorqEngine(kind);
    try {
      const enc = new FecEncoder(engine);
      const dec = new FecDecoder(engine);
      let id = 0;
      for (const size of [1, 63, 64, 1000, 1152, 1153, 65_536, 200_000]) {
        const data = randomBytes(size, size);
        const packets = await enc.encode(++id, data, { repairOverhead: 0.5, symbolSize: 1152 });
        const k = sourceSymbolCount(size, 1152);
        assert.equal(packets.length, k + repairSymbolCount(k, 0.5));
        for (const p of packets) assert.equal(p.length, FEC_HEADER_BYTES + 1152);
        // The first K packets are the object itself, cut into symbols.
        const first = parseFecPacket(packets[0]);
        assert.equal(first.esi, 0);
        assert.deepEqual(first.symbol.subarray(0, Math.min(size, 1152)), data.subarray(0, 1152));
        assert.deepEqual(await feed(dec, packets), data);
      }
      assert.equal(dec.stats.inFlight, 0);
      assert.equal(dec.stats.bufferedBytes, 0);
      assert.equal(dec.stats.decoded, 0, "no loss: concatenation, no RaptorQ decode");
    } finally {
      engine.close();
    }
  });

  Deno.test(`fec (${kind}): any loss pattern up to the overhead decodes`, async () => {
    const engine = await createRaptorqEngine(kind);
    try {
      const enc = new FecEncoder(engine);
      const dec = new FecDecoder(engine);
      const data = randomBytes(65_536, 7);
      const next = prng(99);
      for (let trial = 1; trial <= 12; trial++) {
        const packets = await enc.encode(trial, data, { repairOverhead: 0.55, symbolSize: 1024 });
        const k = sourceSymbolCount(data.length, 1024);
        const repair = packets.length - k;
        // Lose up to `repair` packets anywhere (sources included), in any order.
        const lose = repair - (next() % 3);
        const kept = shuffled(packets, trial).slice(lose);
        assert.deepEqual(await feed(dec, kept), data, `trial ${trial}, ${lose} lost`);
      }
      assert.ok(dec.stats.decoded > 0);
    } finally {
      engine.close();
    }
  });
}

Deno.test("fec: the survive-one-path overhead rule", () => {
  assert.equal(repairOverheadForPaths(1), 0);
  assert.equal(repairOverheadForPaths(2), 1.05);
  assert.equal(repairOverheadForPaths(3), 0.55);
  assert.ok(Math.abs(repairOverheadForPaths(4) - 0.3833) < 1e-3);
  assert.equal(repairSymbolCount(20, 0.55), 11);
  assert.equal(repairSymbolCount(1, 0.05), 1);
  assert.equal(repairSymbolCount(10, 0), 0);
  assert.throws(() => repairOverheadForPaths(0), FecOptionsError);
  assert.throws(() => repairSymbolCount(10, -1), FecOptionsError);
  assert.throws(() => repairSymbolCount(10, Number.NaN), FecOptionsError);
});

Deno.test("fec: round-robin over n paths at the rule's overhead survives losing any one", async () => {
  const enc = new FecEncoder(inProcess);
  let id = 0;
  for (const paths of [2, 3, 4, 5]) {
    for (const size of [100, 5_000, 65_536]) {
      const data = randomBytes(size, size + paths);
      const packets = await enc.encode(++id, data, {
        repairOverhead: repairOverheadForPaths(paths),
        symbolSize: 512,
      });
      for (let cut = 0; cut < paths; cut++) {
        const dec = new FecDecoder(inProcess);
        const kept = packets.filter((_, i) => i % paths !== cut);
        assert.deepEqual(await feed(dec, kept), data, `${paths} paths, ${size} B, path ${cut} cut`);
      }
    }
  }
});

Deno.test("fec: duplicates are dropped, late packets of a finished object too", async () => {
  const enc = new FecEncoder(inProcess);
  const dec = new FecDecoder(inProcess);
  const data = randomBytes(5000, 1);
  const packets = await enc.encode(42, data, { repairOverhead: 1, symbolSize: 512 });
  const k = sourceSymbolCount(5000, 512);
  // Every packet twice, then everything again after completion.
  const doubled = packets.slice(0, k - 1).flatMap((p) => [p, p]);
  assert.equal(await feed(dec, doubled), null);
  assert.equal(dec.stats.duplicates, k - 1);
  assert.deepEqual(await dec.push(packets[k + 2]), data);
  assert.equal(await feed(dec, packets), null, "a finished object never completes again");
  assert.equal(dec.stats.completed, 1);
  assert.equal(dec.stats.inFlight, 0);
});

Deno.test("fec: malformed packets are refused with a typed error, the decoder goes on", async () => {
  const enc = new FecEncoder(inProcess);
  const dec = new FecDecoder(inProcess);
  const data = randomBytes(3000, 3);
  const packets = await enc.encode(5, data, { repairOverhead: 0.5, symbolSize: 256 });
  const good = packets[0];
  const mutate = (at: number, value: number) => {
    const p = good.slice();
    p[at] = value;
    return p;
  };
  const bad: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["short", good.subarray(0, 40)],
    ["truncated", good.subarray(0, good.length - 1)],
    ["overlong", new Uint8Array([...good, 0])],
    ["version", mutate(0, 2)],
    ["flags", mutate(1, 1)],
    ["symbol size not a multiple of 8", mutate(11, 255)],
    ["second source block", mutate(12, 1)],
    [
      "zero length",
      (() => {
        const p = good.slice();
        new DataView(p.buffer).setUint32(6, 0);
        return p;
      })(),
    ],
  ];
  for (const [what, packet] of bad) {
    await assert.rejects(dec.push(packet), FecMalformedPacketError, what);
  }
  // Same object id, other OTI: refused, the object is untouched.
  await dec.push(packets[1]);
  const other = good.slice();
  new DataView(other.buffer).setUint32(6, 2999);
  await assert.rejects(dec.push(other), /was 3000\/256/);
  assert.deepEqual(await feed(dec, packets), data);
});

Deno.test("fec: memory bombs are refused before anything is buffered", async () => {
  const enc = new FecEncoder(inProcess, { maxTransferLength: 8 << 20 });
  const dec = new FecDecoder(inProcess, { maxTransferLength: 64 * 1024 });
  const [p] = await enc.encode(1, randomBytes(1024, 1), { repairOverhead: 0, symbolSize: 1024 });
  const bomb = p.slice();
  new DataView(bomb.buffer).setUint32(6, 0xffff_ffff); // 4 GiB declared
  await assert.rejects(dec.push(bomb), FecMalformedPacketError, "over the hard symbol count");
  new DataView(bomb.buffer).setUint32(6, 8 << 20); // 8 MiB: valid OTI, over this decoder's limit
  await assert.rejects(dec.push(bomb), FecObjectTooLargeError);
  assert.equal(dec.stats.bufferedBytes, 0);
  // The encoder refuses what the decoder would (and an empty object).
  await assert.rejects(
    new FecEncoder(inProcess).encode(1, new Uint8Array(2 << 20)),
    FecObjectTooLargeError,
  );
  await assert.rejects(new FecEncoder(inProcess).encode(1, new Uint8Array(0)), FecOptionsError);
  await assert.rejects(
    new FecEncoder(inProcess).encode(1, new Uint8Array(10), { symbolSize: 100 }),
    FecOptionsError,
  );
});

Deno.test("fec: many partial objects stay within the object and byte budgets", async () => {
  const enc = new FecEncoder(inProcess);
  const dec = new FecDecoder(inProcess, { maxObjects: 8, maxBufferedBytes: 64 * 1024 });
  // 100 objects of 32 KiB, each missing its last source symbol: none can complete.
  for (let id = 1; id <= 100; id++) {
    const packets = await enc.encode(id, randomBytes(32 * 1024, id), {
      repairOverhead: 0,
      symbolSize: 1024,
    });
    for (const p of packets.slice(0, -1)) assert.equal(await dec.push(p), null);
    assert.ok(dec.stats.inFlight <= 8);
    assert.ok(dec.stats.bufferedBytes <= 64 * 1024);
  }
  assert.ok(dec.stats.evicted >= 90);
  // A whole object still goes through afterwards.
  const data = randomBytes(10_000, 5);
  assert.deepEqual(await feed(dec, await enc.encode(1000, data, { symbolSize: 1024 })), data);
  // One object bigger than the whole budget is refused (not the decoder).
  const small = new FecDecoder(inProcess, { maxBufferedBytes: 4096 });
  const big = await enc.encode(1, randomBytes(20_000, 1), { repairOverhead: 0, symbolSize: 1024 });
  await assert.rejects(feed(small, big), FecBufferFullError);
  assert.ok(small.stats.bufferedBytes <= 4096);
});

Deno.test("fec: an unfinished object is dropped at its timeout", async () => {
  let now = 0;
  const enc = new FecEncoder(inProcess);
  const dec = new FecDecoder(inProcess, { objectTimeoutMs: 1000, now: () => now });
  const packets = await enc.encode(9, randomBytes(4000, 9), {
    repairOverhead: 0,
    symbolSize: 1024,
  });
  await dec.push(packets[0]);
  now = 1500;
  const other = await enc.encode(10, randomBytes(100, 1), { repairOverhead: 0, symbolSize: 1024 });
  assert.ok(await dec.push(other[0]));
  assert.equal(dec.stats.evicted, 1);
  assert.equal(dec.stats.inFlight, 0);
  assert.equal(await feed(dec, packets), null, "its late packets are dropped");
});

Deno.test("fec: a corrupt symbol gives wrong bytes (for the AEAD to refuse), never a crash", async () => {
  const enc = new FecEncoder(inProcess);
  const dec = new FecDecoder(inProcess);
  const data = randomBytes(8192, 3);
  const packets = await enc.encode(3, data, { repairOverhead: 1, symbolSize: 1024 });
  // Source symbol 0 lost; a repair symbol arrives with flipped bits.
  const flipped = packets[8].slice();
  flipped[100] ^= 0xff;
  const out = await feed(dec, [flipped, ...packets.slice(1, 8)]);
  assert.ok(out);
  assert.equal(out.length, data.length);
  assert.notDeepEqual(out, data);
});

Deno.test("fec: an object that never decodes is abandoned after K + maxExtraSymbols", async () => {
  // An engine that never succeeds (the decoder's bound, not RaptorQ, is under test).
  const never: RaptorqEngine = {
    kind: "inprocess",
    encode: (d, t, r) => inProcess.encode(d, t, r),
    decode: () => Promise.resolve(null),
    close() {},
  };
  const enc = new FecEncoder(inProcess);
  const dec = new FecDecoder(never, { maxExtraSymbols: 4 });
  const packets = await enc.encode(3, randomBytes(8192, 3), {
    repairOverhead: 2,
    symbolSize: 1024,
  });
  await assert.rejects(feed(dec, packets.slice(1)), FecUndecodableError);
  assert.equal(dec.stats.abandoned, 1);
  assert.equal(dec.stats.bufferedBytes, 0);
  assert.equal(dec.stats.inFlight, 0);
});

Deno.test("fec: the Worker engine survives a Worker crash", async () => {
  const engine: RaptorqEngine = await createRaptorqEngine("worker");
  try {
    const enc = new FecEncoder(engine);
    const data = randomBytes(5000, 11);
    const before = await enc.encode(1, data, { repairOverhead: 0.5, symbolSize: 512 });
    (engine as WorkerRaptorq).kill();
    const after = await enc.encode(1, data, { repairOverhead: 0.5, symbolSize: 512 });
    assert.deepEqual(after, before, "deterministic across Workers");
  } finally {
    engine.close();
  }
});

Deno.test("fec: 3000 random mutations of valid packets never crash the decoder", async () => {
  const { FecError } = await import("./mod.ts");
  const enc = new FecEncoder(inProcess);
  const dec = new FecDecoder(inProcess, { maxObjects: 16, maxBufferedBytes: 256 * 1024 });
  const next = prng(2024);
  const packets: Uint8Array[] = [];
  for (let id = 1; id <= 4; id++) {
    packets.push(
      ...await enc.encode(id, randomBytes(3000 * id, id), { repairOverhead: 1, symbolSize: 256 }),
    );
  }
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const p = packets[next() % packets.length].slice();
    // One to four bytes anywhere (header included), or a truncation.
    for (let n = 1 + (next() % 4); n > 0; n--) p[next() % p.length] = next() & 0xff;
    const packet = next() % 10 === 0 ? p.subarray(0, next() % p.length) : p;
    try {
      await dec.push(packet);
    } catch (error) {
      assert.ok(error instanceof FecError, `not a FecError: ${error}`);
      refused++;
    }
    assert.ok(dec.stats.inFlight <= 16 && dec.stats.bufferedBytes <= 256 * 1024);
  }
  assert.ok(refused > 0);
  // Still a working decoder afterwards.
  const data = randomBytes(5000, 77);
  assert.deepEqual(await feed(dec, await enc.encode(999_999, data, { symbolSize: 256 })), data);
});

Deno.test("fec: with a source grace, K symbols wait for the missing sources (no decode if they come)", async () => {
  const enc = new FecEncoder(inProcess);
  const data = randomBytes(5000, 21);
  const packets = await enc.encode(5, data, { repairOverhead: 0.55, symbolSize: 320 });
  const k = sourceSymbolCount(5000, 320);
  // Round-robin over 3 paths; paths 0 and 1 arrive first and hold K symbols, sources missing.
  const byPath = [0, 1, 2].map((n) => packets.filter((_, i) => i % 3 === n));
  const dec = new FecDecoder(inProcess, { sourceGraceMs: 10_000 });
  let waiting: Promise<Uint8Array | null> | null = null;
  for (const p of [...byPath[0], ...byPath[1]]) {
    const r = dec.offer(p);
    if (r instanceof Promise) waiting = r;
    else assert.equal(r, null);
  }
  assert.ok(waiting, "K symbols held: the grace runs");
  // The third path's sources complete the object at once, by concatenation.
  let out: Uint8Array | null = null;
  for (const p of byPath[2]) out ??= dec.offer(p) as Uint8Array | null;
  assert.deepEqual(out, data);
  assert.equal(await waiting, null, "the waiting call gives nothing (the object came once)");
  assert.equal(dec.stats.decoded, 0);
  assert.ok(k > byPath[2].length);
});

Deno.test("fec: with a source grace, a missing path's objects decode after it, the next at once", async () => {
  let calls = 0;
  const counting: RaptorqEngine = {
    kind: "inprocess",
    encode: (d, t, r) => inProcess.encode(d, t, r),
    decode: (f, t, p) => (calls++, inProcess.decode(f, t, p)),
    close() {},
  };
  const enc = new FecEncoder(inProcess);
  const dec = new FecDecoder(counting, { sourceGraceMs: 5 });
  for (const id of [1, 2]) {
    const data = randomBytes(5000, id);
    const packets = await enc.encode(id, data, { repairOverhead: 0.55, symbolSize: 320 });
    const kept = packets.filter((_, i) => i % 3 !== 2); // path 2 lost
    let out: Uint8Array | null = null;
    for (const p of kept) {
      const r = dec.offer(p);
      if (r instanceof Promise) {
        // The first object waits the grace before the engine call; after a grace that ended
        // without the sources, the next one calls the engine at once.
        assert.equal(calls, id === 1 ? 0 : 2);
        out = await r;
        break;
      }
    }
    assert.deepEqual(out, data);
  }
  assert.equal(dec.stats.decoded, 2);
});
