import assert from "node:assert/strict";
import {
  busyPumpCount,
  MAX_CHUNK,
  MIN_CHUNK,
  Pump,
  QUIET_BURSTS,
  SLAB_SLOTS,
  slabStats,
  SMALL_CHUNK,
} from "./byte_pump.ts";
import type { ByteConn } from "./listener.ts";

/**
 * A scripted source: each `push` is what one read finds queued (a read gets
 * as much of it as its buffer holds, the rest stays queued); `end` ends it.
 * Records every read's buffer size.
 */
class Source implements ByteConn {
  readonly readSizes: number[] = [];
  #queued: Uint8Array[] = [];
  #waiting: { buf: Uint8Array; resolve: (n: number | null) => void } | null = null;
  #ended = false;

  read(buf: Uint8Array): Promise<number | null> {
    this.readSizes.push(buf.length);
    return new Promise((resolve) => {
      this.#waiting = { buf, resolve };
      this.#serve();
    });
  }

  push(bytes: Uint8Array): void {
    this.#queued.push(bytes);
    this.#serve();
  }

  end(): void {
    this.#ended = true;
    this.#serve();
  }

  #serve(): void {
    const w = this.#waiting;
    if (!w) return;
    if (this.#queued.length === 0) {
      if (this.#ended) {
        this.#waiting = null;
        w.resolve(null);
      }
      return;
    }
    this.#waiting = null;
    let n = 0;
    while (n < w.buf.length && this.#queued.length > 0) {
      const head = this.#queued[0];
      const take = Math.min(head.length, w.buf.length - n);
      w.buf.set(head.subarray(0, take), n);
      n += take;
      if (take === head.length) this.#queued.shift();
      else this.#queued[0] = head.subarray(take);
    }
    w.resolve(n);
  }

  write(): Promise<number> {
    return Promise.reject(new Error("read-only"));
  }

  close(): void {}
}

/** A sink taking at most `chunk` bytes per write (partial writes), recording the writes. */
class Sink implements ByteConn {
  readonly writes: number[] = [];
  readonly bytes: number[] = [];
  constructor(readonly chunk = Infinity) {}
  read(): Promise<number | null> {
    return new Promise(() => {});
  }
  write(data: Uint8Array): Promise<number> {
    const n = Math.min(data.length, this.chunk);
    this.writes.push(n);
    this.bytes.push(...data.subarray(0, n));
    return Promise.resolve(n);
  }
  close(): void {}
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const bytes = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

Deno.test("byte pump: every byte arrives in order, with partial writes and bursts of any size", async () => {
  const source = new Source();
  const sink = new Sink(700);
  let ended = 0;
  new Pump(source, sink, () => ended++).start();
  const sent: number[] = [];
  for (const [i, size] of [10, 256, 257, 290, 4000, 70_000, 1, 300, 300, 300].entries()) {
    const b = bytes(size, i);
    sent.push(...b);
    source.push(b);
    await settle();
  }
  source.end();
  await settle();
  assert.equal(ended, 1);
  assert.equal(sink.bytes.length, sent.length);
  assert.deepEqual(sink.bytes, sent);
  assert.equal(busyPumpCount(), 0);
});

Deno.test("byte pump: a stream of records larger than the small buffer crosses in one read each", async () => {
  const source = new Source();
  const sink = new Sink();
  new Pump(source, sink, () => {}).start();
  // The first record splits (small buffer full) and makes the pump busy.
  source.push(bytes(290, 0));
  await settle();
  assert.deepEqual(sink.writes, [SMALL_CHUNK, 290 - SMALL_CHUNK]);
  assert.equal(busyPumpCount(), 1);
  // The next ones: one read and one write each, into the kept large buffer.
  for (let i = 1; i <= 5; i++) {
    source.push(bytes(290, i));
    await settle();
  }
  assert.deepEqual(sink.writes.slice(2), [290, 290, 290, 290, 290]);
  assert.ok(source.readSizes.slice(2).every((size) => size === MIN_CHUNK), `${source.readSizes}`);
  // Acks between the records keep it busy; a run of small bursts (the stream going quiet) ends it.
  for (let i = 1; i < QUIET_BURSTS; i++) {
    source.push(bytes(40, i));
    await settle();
    assert.equal(source.readSizes.at(-1), MIN_CHUNK);
  }
  source.push(bytes(290, 7));
  await settle();
  assert.equal(sink.writes.at(-1), 290);
  for (let i = 1; i <= QUIET_BURSTS; i++) {
    source.push(bytes(40, i));
    await settle();
  }
  assert.equal(source.readSizes.at(-1), SMALL_CHUNK);
  assert.equal(busyPumpCount(), 0);
  source.end();
  await settle();
});

Deno.test("byte pump: bursts the small buffer holds wait on it; large buffers grow to the largest", async () => {
  const source = new Source();
  const sink = new Sink();
  let ended = false;
  new Pump(source, sink, () => (ended = true)).start();
  source.push(bytes(100, 1));
  await settle();
  assert.deepEqual(source.readSizes, [SMALL_CHUNK, SMALL_CHUNK]);
  // A burst of 1,000 B: busy, the next read on a large buffer.
  source.push(bytes(1000, 1));
  await settle();
  assert.equal(source.readSizes.at(-1), MIN_CHUNK);
  assert.equal(busyPumpCount(), 1);
  // Growing bursts double the large buffer up to the largest.
  source.push(bytes(200_000, 2));
  await settle();
  assert.ok(source.readSizes.includes(MAX_CHUNK));
  source.end();
  await settle();
  assert.ok(ended);
  assert.equal(busyPumpCount(), 0);
});

Deno.test("byte pump: small buffers are disjoint slots of shared slabs, given back when a pump ends", async () => {
  const before = slabStats();
  // More pumps than one slab has slots, each idle on its small buffer.
  const count = SLAB_SLOTS + 3;
  const sources = Array.from({ length: count }, () => new Source());
  const sinks = Array.from({ length: count }, () => new Sink());
  let ended = 0;
  sources.forEach((source, i) => new Pump(source, sinks[i], () => ended++).start());
  // Every pump's bytes arrive intact although their buffers share ArrayBuffers (one burst each,
  // all read before any is written: a shared slot would have mixed them).
  sources.forEach((source, i) => source.push(bytes(200, i)));
  await settle();
  sinks.forEach((sink, i) => assert.deepEqual(sink.bytes, [...bytes(200, i)]));
  const waiting = sources.map((source) => source.readSizes.at(-1));
  assert.ok(waiting.every((size) => size === SMALL_CHUNK), `${waiting}`);
  assert.equal(slabStats().inUse, before.inUse + count);
  for (const source of sources) source.end();
  await settle();
  assert.equal(ended, count);
  // Every slot is free again; slabs left all free beyond one are dropped.
  const after = slabStats();
  assert.equal(after.inUse, before.inUse);
  assert.ok(after.open <= Math.max(1, before.open), `${after.open} slabs kept`);
});

Deno.test("byte pump: a failed write ends the pump once and gives its slot back", async () => {
  const before = slabStats();
  const source = new Source();
  const sink: ByteConn = {
    read: () => new Promise(() => {}),
    write: () => Promise.reject(new Error("reset")),
    close() {},
  };
  let ended = 0;
  new Pump(source, sink, () => ended++).start();
  source.push(bytes(10, 0));
  await settle();
  assert.equal(ended, 1);
  assert.deepEqual(slabStats(), before);
});
