/**
 * Group-committed offline-queue writes: what gathers while a write is out
 * goes in the next single transaction, in call order; a copy acknowledged
 * before its write is never written; a failed batch rejects its waiters and
 * loses nothing written before.
 */
import assert from "node:assert/strict";
import type { OfflineEnvelope } from "../storage/mod.ts";
import { OfflineWrites, type WrittenBatch } from "./offline_writes.ts";

interface Call {
  insert: string[];
  remove: string[];
  release(): void;
  fail(error: Error): void;
}

/** A store whose writes wait until the test releases them. */
function gatedStore() {
  const calls: Call[] = [];
  return {
    calls,
    writeOfflineBatch(
      insert: OfflineEnvelope[],
      remove: { deviceId: string; envelopeId: string }[],
    ) {
      return new Promise<void>((resolve, reject) => {
        calls.push({
          insert: insert.map((e) => e.envelopeId),
          remove: remove.map((r) => r.envelopeId),
          release: resolve,
          fail: reject,
        });
      });
    },
  };
}

const row = (id: string, deviceId = "d"): OfflineEnvelope => ({
  envelopeId: id,
  deviceId,
  payload: new Uint8Array([1]),
  deliverAfter: new Date(0),
  expiresAt: new Date(8.64e15),
});

const turn = () => new Promise((resolve) => setTimeout(resolve, 1));

Deno.test("offline writes: inserts, kept copies and removals gathered during a write share the next transaction, in call order", async () => {
  const store = gatedStore();
  const written: WrittenBatch[] = [];
  const writes = new OfflineWrites(store, (b) => written.push(b));
  const first = writes.insert([row("e1")]);
  await turn();
  assert.equal(store.calls.length, 1, "the first write starts after its turn");
  // While it is out: a kept copy, an enqueue, a removal, and a copy acknowledged at once.
  writes.keep({ envelope: row("k1"), connectionId: "c1" });
  const second = writes.insert([row("e2"), row("e3", "other")]);
  const removal = writes.remove("d", "e0");
  writes.keep({ envelope: row("k2"), connectionId: "c1" });
  assert.equal(writes.forget("k2"), true, "acknowledged before its write: never written");
  assert.equal(writes.forget("e2"), false, "an enqueued row is not a kept copy");
  const copies = writes.written();
  assert.ok(copies !== null);
  await turn();
  assert.equal(store.calls.length, 1, "nothing starts while a write is out");
  store.calls[0].release();
  await first;
  await turn();
  assert.equal(store.calls.length, 2);
  assert.deepEqual(store.calls[1].insert, ["k1", "e2", "e3"]);
  assert.deepEqual(store.calls[1].remove, ["e0"]);
  store.calls[1].release();
  await Promise.all([second, removal, copies]);
  assert.deepEqual(written[1].enqueued.map((e) => e.envelopeId), ["e2", "e3"]);
  assert.deepEqual(written[1].kept.map((k) => k.envelope.envelopeId), ["k1"]);
  assert.equal(writes.written(), null, "nothing waits");
});

Deno.test("offline writes: a failed batch rejects its waiters only; the next batch is written", async () => {
  const store = gatedStore();
  let failures = 0;
  const writes = new OfflineWrites(store, () => {}, (kept) => (failures += kept));
  writes.keep({ envelope: row("k1"), connectionId: null });
  const copies = writes.written()!;
  const enqueued = writes.insert([row("e1")]);
  const removal = writes.remove("d", "e0");
  await turn();
  store.calls[0].fail(new Error("store down"));
  for (const waiter of [copies, enqueued, removal]) {
    await assert.rejects(waiter, /store down/);
  }
  assert.equal(failures, 1, "one kept copy in the failed batch");
  // The sender retries (it was never acknowledged); the removal is asked again on the next ack.
  const retried = writes.insert([row("e1")]);
  const again = writes.remove("d", "e0");
  await turn();
  assert.deepEqual(store.calls[1].insert, ["e1"]);
  assert.deepEqual(store.calls[1].remove, ["e0"]);
  store.calls[1].release();
  await Promise.all([retried, again]);
});

Deno.test("offline writes: flush writes the open batch at once and waits for every write", async () => {
  const store = gatedStore();
  const writes = new OfflineWrites(store, () => {});
  const done = writes.insert([row("e1")]);
  const flushed = writes.flush();
  assert.equal(store.calls.length, 1, "started without waiting for the turn");
  store.calls[0].release();
  await flushed;
  await done;
  assert.equal(writes.written(), null);
});
