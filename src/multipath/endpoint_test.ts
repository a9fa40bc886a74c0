import assert from "node:assert/strict";
import { MultipathEndpoint, type PathLink } from "./endpoint.ts";
import { PathKeys } from "./keys.ts";
import { scheduleFor, survivingOverhead } from "./policy.ts";
import { attachUnit, dataUnit, decodePathUnit } from "./wire.ts";
import { UnitDecoder } from "../proto/mod.ts";
import type { FecCodec } from "./fec.ts";
import { raptorqCodec } from "./raptorq.ts";
import { fecUnit } from "./wire.ts";

const keys = () => PathKeys.derive(new Uint8Array(32).fill(7), new Uint8Array(32).fill(9));

/** A deterministic PRNG (tests must not depend on luck). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface WireOptions {
  loss?: number;
  cutAfter?: number;
  seed?: number;
}

/** Connects path `a` of one endpoint to path `b` of the other, both ways, with loss and cuts. */
class FakeWire {
  units = 0;
  cut = false;
  readonly #random: () => number;
  readonly #options: WireOptions;
  readonly queue: Array<() => void> = [];
  constructor(options: WireOptions = {}) {
    this.#options = options;
    this.#random = prng(options.seed ?? 1);
  }
  link(deliver: () => (unit: Uint8Array) => void, onCut: () => void): PathLink {
    // deno-lint-ignore no-this-alias
    const wire = this;
    return {
      backlogBytes: 0,
      send(unit) {
        if (wire.cut) return;
        wire.units++;
        if (wire.#options.cutAfter !== undefined && wire.units > wire.#options.cutAfter) {
          wire.cut = true;
          queueMicrotask(onCut);
          return;
        }
        if (wire.#options.loss && wire.#random() < wire.#options.loss) return;
        const copy = unit.slice();
        wire.queue.push(() => deliver()(copy));
      },
      close() {},
    };
  }
}

/** Two endpoints joined by `wires`; delivered ciphertexts collected on each side. */
function pair(wires: FakeWire[], fec?: FecCodec, minRtoMs = 20) {
  const got = { client: [] as string[], server: [] as string[] };
  const fatal: string[] = [];
  const k = keys();
  const make = (side: "client" | "server") =>
    new MultipathEndpoint({
      side,
      keys: k,
      deliver: (c) => got[side].push(new TextDecoder().decode(c)),
      onFatal: (d) => fatal.push(d),
      minRtoMs,
      maxRtoMs: minRtoMs * 5,
      ackDelayMs: 0,
      minFecBytes: 0,
      fec,
    });
  const client = make("client");
  const server = make("server");
  const ids: Array<{ c: number; s: number }> = [];
  for (const wire of wires) {
    const ref = { c: -1, s: -1 };
    // A cut ends the path at both ends, whichever end's unit found it.
    const cut = () => {
      client.removePath(ref.c);
      server.removePath(ref.s);
    };
    ref.c = client.addPath(wire.link(() => (u) => server.receive(ref.s, u), cut), "fake");
    ref.s = server.addPath(wire.link(() => (u) => client.receive(ref.c, u), cut), "fake");
    ids.push(ref);
  }
  return { client, server, got, fatal, ids };
}

/** Runs the wires (random interleaving across paths) until every queue is empty and timers settled. */
async function drain(
  wires: FakeWire[],
  done: () => boolean,
  seed = 3,
  rounds = 10_000,
): Promise<void> {
  const random = prng(seed);
  for (let round = 0; round < rounds && !done(); round++) {
    let moved = true;
    while (moved) {
      moved = false;
      const busy = wires.filter((w) => w.queue.length > 0);
      if (busy.length > 0) {
        busy[Math.floor(random() * busy.length)].queue.shift()!();
        moved = true;
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

const messages = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

Deno.test("policy: overhead that survives one lost path; schedules by path count", () => {
  assert.equal(survivingOverhead(3).toFixed(2), "0.55");
  assert.equal(survivingOverhead(4).toFixed(2), "0.38");
  assert.deepEqual(scheduleFor({ mode: "auto" }, 1, true), { kind: "single" });
  assert.deepEqual(scheduleFor({ mode: "auto" }, 2, true), { kind: "duplicate" });
  assert.deepEqual(scheduleFor({ mode: "auto" }, 3, true), {
    kind: "raptorq",
    overhead: survivingOverhead(3),
    minBytes: 32 * 1024,
  });
  assert.deepEqual(scheduleFor({ mode: "auto" }, 3, false), { kind: "duplicate" });
  assert.deepEqual(scheduleFor({ mode: "off" }, 3, true), { kind: "single" });
  const r = scheduleFor({ mode: "raptorq", overhead: 0.2 }, 3, true);
  assert.ok(r.kind === "raptorq" && r.overhead > 0.54 && r.minBytes === 2048);
});

Deno.test("endpoint: 3 paths, 20% loss on one, another cut mid-stream: all delivered once, in order", async () => {
  const wires = [
    new FakeWire({ loss: 0.2, seed: 11 }),
    new FakeWire({ cutAfter: 2 }),
    new FakeWire(),
  ];
  const { client, server, got, fatal } = pair(wires);
  const sent = messages(5000);
  try {
    for (const m of sent) client.send(new TextEncoder().encode(m));
    for (const m of sent) server.send(new TextEncoder().encode(`r${m}`));
    await drain(
      wires,
      () => got.server.length === sent.length && got.client.length === sent.length,
    );
    assert.deepEqual(got.server, sent);
    assert.deepEqual(got.client, sent.map((m) => `r${m}`));
    assert.deepEqual(fatal, []);
    assert.ok(wires[1].cut);
    assert.equal(client.pathCount, 2);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("endpoint: 2 paths (duplicate), one cut: nothing lost, duplicates dropped", async () => {
  const wires = [new FakeWire({ cutAfter: 300 }), new FakeWire()];
  const { client, server, got } = pair(wires);
  const sent = messages(2000);
  try {
    for (const m of sent) client.send(new TextEncoder().encode(m));
    await drain(wires, () => got.server.length === sent.length && client.stats.acked === 2000);
    assert.deepEqual(got.server, sent);
    assert.ok(server.stats.duplicates > 0, "duplicate mode sends every unit twice");
    assert.equal(client.stats.acked, 2000);
    assert.equal(client.unackedBytes, 0);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("endpoint: a path lost entirely, then re-attached, resends what was outstanding", async () => {
  const wire = new FakeWire();
  const { client, server, got, ids } = pair([wire]);
  try {
    wire.cut = true; // silently: nothing gets through
    for (const m of messages(50)) client.send(new TextEncoder().encode(m));
    client.removePath(ids[0].c);
    server.removePath(ids[0].s);
    assert.equal(client.pathCount, 0);
    const again = new FakeWire();
    const ref = { c: -1, s: -1 };
    ref.s = server.addPath(again.link(() => (u) => client.receive(ref.c, u), () => {}), "fake");
    ref.c = client.addPath(again.link(() => (u) => server.receive(ref.s, u), () => {}), "fake");
    await drain([again], () => got.server.length === 50 && client.unackedBytes === 0);
    assert.deepEqual(got.server, messages(50));
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("endpoint: malformed units, forged ACKs and attach units refuse the path, not the session", () => {
  const sent: Uint8Array[] = [];
  let closed = 0;
  const ends: string[] = [];
  const fatal: string[] = [];
  const e = new MultipathEndpoint({
    side: "server",
    keys: keys(),
    deliver: () => {},
    onFatal: (d) => fatal.push(d),
    onPathEnd: (_id, end, detail) => ends.push(`${end}: ${detail}`),
  });
  const link = (): PathLink => ({
    backlogBytes: 0,
    send: (u) => sent.push(u),
    close: () => closed++,
  });
  try {
    const a = e.addPath(link(), "x");
    e.receive(a, new Uint8Array([2, 0xee, 1]));
    const b = e.addPath(link(), "x");
    e.receive(b, new Uint8Array([18, 0xa3, 5, ...new Uint8Array(16)]));
    const c = e.addPath(link(), "x");
    e.receive(c, attachUnit(new Uint8Array(16), 1, new Uint8Array(32)));
    const d = e.addPath(link(), "x");
    e.receive(d, new Uint8Array([0x82, 0x80, 0x04])); // a 65536-byte unit: over the bound
    assert.equal(e.pathCount, 0);
    assert.equal(closed, 4);
    assert.deepEqual(ends.map((s) => s.split(":")[0]), [
      "refused",
      "refused",
      "refused",
      "refused",
    ]);
    assert.match(ends[0], /unknown path unit kind 0xee/);
    assert.match(ends[1], /ack: bad mac/);
    assert.match(ends[2], /unexpected attach/);
    assert.deepEqual(fatal, []);
    // Each refusal is a plain CCP-1 Error frame on the path.
    const errors = sent.filter((u) => new UnitDecoder().push(u)[0]?.[0] === 0x0d);
    assert.equal(errors.length, 4);
  } finally {
    e.close();
  }
});

Deno.test("endpoint: a valid ACK beyond what was sent is fatal; reorder memory is bounded", () => {
  const fatal: string[] = [];
  const k = keys();
  const delivered: number[] = [];
  const e = new MultipathEndpoint({
    side: "server",
    keys: k,
    deliver: (c) => delivered.push(c[0]),
    onFatal: (d) => fatal.push(d),
    receiveWindow: 8,
    maxReorderBytes: 100,
  });
  try {
    const id = e.addPath({ backlogBytes: 0, send: () => {}, close: () => {} }, "x");
    // Far ahead: dropped, never buffered.
    for (let seq = 2; seq < 1000; seq++) e.receive(id, dataUnit(seq, new Uint8Array([seq & 0xff])));
    assert.equal(e.stats.dropped > 900, true);
    e.receive(id, dataUnit(1, new Uint8Array([1])));
    assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6, 7, 8]);
    const mac = k.ackMac("client", 5);
    const unit = new Uint8Array([18, 0xa3, 5, ...mac]);
    assert.equal(decodePathUnit(unit.subarray(1)).kind, "ack");
    e.receive(id, unit);
    assert.equal(fatal.length, 1);
    assert.match(fatal[0], /ack of unit 5, only 0 sent/);
  } finally {
    e.close();
  }
});

Deno.test("endpoint: RaptorQ over 3 paths, 20% loss on one and another cut: all delivered once, in order", async () => {
  const codec = raptorqCodec("inprocess");
  const wires = [
    new FakeWire({ loss: 0.2, seed: 5 }),
    new FakeWire({ cutAfter: 20 }),
    new FakeWire(),
  ];
  // The engine loads once, before the clock of retransmission matters.
  await codec.encode(0, new Uint8Array(100), 0.5);
  const { client, server, got, fatal } = pair(wires, codec, 500);
  const sent = messages(3000);
  try {
    // Several turns, so several FEC objects.
    for (let i = 0; i < sent.length; i += 100) {
      for (const m of sent.slice(i, i + 100)) client.send(new TextEncoder().encode(m));
      for (const m of sent.slice(i, i + 100)) server.send(new TextEncoder().encode(`r${m}`));
      // Let the encoder finish, then carry what is on the wires.
      for (let t = 0; t < 3; t++) await new Promise((r) => setTimeout(r, 1));
      await drain(wires, () => false, i, 2);
    }
    await drain(
      wires,
      () => got.server.length === sent.length && got.client.length === sent.length,
    );
    assert.deepEqual(got.server, sent);
    assert.deepEqual(got.client, sent.map((m) => `r${m}`));
    assert.deepEqual(fatal, []);
    assert.ok(server.stats.fecRecovered > 0, "units came out of FEC objects");
    assert.ok(client.stats.fecRecovered > 0, "both ways");
    assert.ok(wires[1].cut, "a path was cut");
  } finally {
    client.close();
    server.close();
    codec.close();
  }
});

Deno.test("endpoint: a malformed FEC packet refuses its path, the session goes on", async () => {
  const codec = raptorqCodec("inprocess");
  const ends: string[] = [];
  const e = new MultipathEndpoint({
    side: "server",
    keys: keys(),
    deliver: () => {},
    onFatal: (d) => assert.fail(d),
    onPathEnd: (_id, end, detail) => ends.push(`${end}: ${detail}`),
    fec: codec,
  });
  try {
    const link = (): PathLink => ({ backlogBytes: 0, send: () => {}, close: () => {} });
    const a = e.addPath(link(), "x");
    e.addPath(link(), "x");
    e.receive(a, fecUnit(new Uint8Array([9, 9, 9, 9])));
    // A declared object of 8 MiB (a memory bomb) is refused as well.
    const bomb = new Uint8Array(16 + 64);
    bomb[0] = 1;
    new DataView(bomb.buffer).setUint32(6, 8 * 1024 * 1024);
    new DataView(bomb.buffer).setUint16(10, 64);
    const b = e.addPath(link(), "x");
    e.receive(b, fecUnit(bomb));
    for (let i = 0; i < 50 && ends.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ends.length, 2);
    assert.match(ends[0], /^refused: fec: /);
    assert.match(ends[1], /^refused: fec: /);
    assert.equal(e.pathCount, 1);
  } finally {
    e.close();
    codec.close();
  }
});
