import assert from "node:assert/strict";
import { encodeFrame, FrameType } from "../proto/mod.ts";
import { FrameArena } from "./frame_arena.ts";
import {
  copyBytes,
  Durability,
  type EncodedPlace,
  encodeForCopies,
  KeptCopies,
  KeptCopy,
  LazyEncodedFrame,
  type PendingCopy,
} from "./kept_copies.ts";
import { KeptIds } from "./kept_ids.ts";
import { FakeClock } from "./testing.ts";

Deno.test("kept copy: held and written as the object given (no wrapper per copy); a plain copy is wrapped", async () => {
  const writes: PendingCopy[][] = [];
  const clock = new FakeClock();
  const kept = new KeptCopies({
    delayMs: 100,
    clock,
    write: (copies) => {
      writes.push(copies);
      return Promise.resolve();
    },
  });
  const own = new KeptCopy("e1", null, "bob", new Uint8Array(3), clock.now(), "c1");
  kept.keep(own);
  kept.keep({
    envelopeId: "e2",
    deviceId: "bob",
    payload: new Uint8Array(5),
    keptAt: 0,
    connectionId: "c1",
  });
  const durable = kept.durable()!;
  let settled = false;
  durable.whenSettled({ durable: () => settled = true, failed: () => {} });
  assert.equal(kept.size, 2);
  assert.equal(kept.undelivered("e1"), true);
  assert.equal(writes.length, 1);
  assert.equal(writes[0][0], own, "the object given is what is written");
  assert.equal(own.connectionId, null, "undelivered: its device could not take it");
  clock.advance(99);
  assert.equal(writes.length, 1, "inside the window");
  clock.advance(1);
  assert.equal(writes.length, 2);
  assert.equal(writes[1][0].envelopeId, "e2");
  assert.equal(writes[1][0].payload.length, 5);
  await durable;
  assert.equal(settled, true, "both copies settle the group");
});

for (const count of [1, 2, 3]) {
  for (const outcome of ["acknowledged", "failed write"] as const) {
    Deno.test(`kept copy: ${count} listener(s) of a group each told once (${outcome})`, async () => {
      const clock = new FakeClock();
      const kept = new KeptCopies({
        delayMs: 100,
        clock,
        write: () =>
          outcome === "failed write" ? Promise.reject(new Error("down")) : Promise.resolve(),
      });
      kept.keep(new KeptCopy("e1", null, "bob", new Uint8Array(3), clock.now(), "c1"));
      const durable = kept.durable()!;
      const told: string[] = [];
      // One listener object for every wait, told apart by the token (a reply queue's way).
      const listener = {
        durable: (token: number) => told.push(`durable ${token}`),
        failed: (error: unknown, token: number) =>
          told.push(`failed ${token}: ${(error as Error).message}`),
      };
      for (let i = 0; i < count; i++) durable.whenSettled(listener, i);
      assert.deepEqual(told, []);
      if (outcome === "acknowledged") kept.acknowledge("e1");
      else kept.undelivered("e1");
      await Promise.resolve();
      await Promise.resolve();
      const expected = Array.from(
        { length: count },
        (_, i) => outcome === "acknowledged" ? `durable ${i}` : `failed ${i}: down`,
      );
      assert.deepEqual(told, expected);
      kept.acknowledge("e1");
      assert.deepEqual(told, expected, "told once");
    });
  }
}

Deno.test("kept copy: a copy alone in its group is its own Durability (one object per 1:1 copy); a second copy moves both into a group", async () => {
  const clock = new FakeClock();
  const kept = new KeptCopies({ delayMs: 100, clock, write: () => Promise.resolve() });
  const alone = new KeptCopy("a1", null, "bob", new Uint8Array(3), clock.now(), "c1");
  kept.keep(alone);
  const durable = kept.durable();
  assert.equal(durable, alone, "no group or Durability object of its own");
  assert.ok(durable instanceof Durability);
  let told = 0;
  durable.whenSettled({ durable: () => told++, failed: () => {} });
  kept.acknowledge("a1");
  assert.equal(told, 1);
  await durable; // a thenable that settles like the group it is

  const first = new KeptCopy("b1", null, "bob", new Uint8Array(3), clock.now(), "c1");
  const second = new KeptCopy("b2", null, "carol", new Uint8Array(3), clock.now(), "c2");
  kept.keep(first);
  kept.keep(second);
  const both = kept.durable()!;
  assert.notEqual(both, first);
  let settled = false;
  both.whenSettled({ durable: () => settled = true, failed: () => {} });
  kept.acknowledge("b1");
  assert.equal(settled, false, "the second copy is not settled yet");
  kept.acknowledge("b2");
  assert.equal(settled, true);
  assert.equal(kept.durable(), null, "nothing kept since");
});

Deno.test("kept copy: a frame placed in the arena is written as encodeFrame makes it, from bytes of its own; its kept time is kept exactly", () => {
  const arena = new FrameArena(256, 128);
  const place: EncodedPlace = { bytes: new Uint8Array(0), at: -1, length: 0 };
  const frame = {
    type: FrameType.Msg,
    channel: 7,
    sequence: 41,
    payload: new Uint8Array([1, 2, 3]),
  };
  encodeForCopies(frame, arena, place);
  assert.ok(place.at >= 0, "small: into the arena");
  const keptAt = 1_700_000_000_123;
  const copy = new KeptCopy(
    1,
    new KeptIds(),
    "bob",
    place.bytes,
    keptAt,
    "c1",
    place.at,
    place.length,
  );
  assert.equal(copy.length, encodeFrame(frame).length);
  assert.equal(copy.keptAt, keptAt);
  const bytes = copyBytes(copy.payload);
  assert.deepEqual(bytes, encodeFrame(frame));
  assert.notEqual(bytes.buffer, arena.chunk.buffer, "the store never pins the chunk");
  assert.equal(copy.payload, bytes, "made once");
  // A large frame is encoded only if written, once for all its copies.
  const large = { ...frame, payload: new Uint8Array(500) };
  encodeForCopies(large, arena, place);
  assert.equal(place.at, -1);
  assert.ok(place.bytes instanceof LazyEncodedFrame);
  assert.deepEqual(copyBytes(place.bytes), encodeFrame(large));
});
