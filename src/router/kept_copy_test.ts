import assert from "node:assert/strict";
import { KeptCopies, KeptCopy, type PendingCopy } from "./kept_copies.ts";
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
