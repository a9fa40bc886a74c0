import assert from "node:assert/strict";
import { KeptCopies, KeptCopy, type PendingCopy } from "./kept_copies.ts";
import { KeptIds } from "./kept_ids.ts";

Deno.test("kept ids: each id is new; its key is its counter, one key per id", () => {
  const ids = new KeptIds();
  const made = Array.from({ length: 5_000 }, () => ids.next());
  assert.equal(new Set(made).size, made.length);
  const keys = made.map((id) => ids.keyOf(id));
  assert.deepEqual(keys.slice(0, 3), [1, 2, 3]);
  assert.ok(keys.every((key) => typeof key === "number"));
  assert.equal(new Set(keys).size, made.length);
  assert.notEqual(new KeptIds().prefix, ids.prefix, "another instance has another prefix");
});

Deno.test("kept ids: an id not in the form this instance makes is its own key", () => {
  const ids = new KeptIds();
  const p = ids.prefix;
  for (
    const other of [
      "e1",
      p,
      `${p}0`, // the counter starts at 1
      `${p}01`, // a leading zero: would share the key of `${p}1`
      `${p}A`,
      `${p}1-`,
      `${p}zzzzzzzzzzz`, // past what the counter reaches
      `${new KeptIds().prefix}1`,
    ]
  ) {
    assert.equal(ids.keyOf(other), other, other);
  }
});

/** A window that keeps copies a minute, keyed by `ids`; `written` lists the ids it wrote. */
function keptWindow(ids: KeptIds): { window: KeptCopies; written: string[] } {
  const written: string[] = [];
  const window = new KeptCopies({
    delayMs: 60_000,
    write: (copies) => {
      written.push(...copies.map((c) => c.envelopeId));
      return Promise.resolve();
    },
    keyOf: (id) => ids.keyOf(id),
  });
  return { window, written };
}

Deno.test("kept copies: with numeric keys a copy is still taken by its id, a foreign id by itself", async () => {
  const ids = new KeptIds();
  const { window, written } = keptWindow(ids);
  const copy = (envelopeId: string): PendingCopy => ({
    envelopeId,
    deviceId: "d1",
    payload: new Uint8Array(4),
    keptAt: 0,
    connectionId: "c1",
  });
  const own = ids.next();
  window.keep(copy(own));
  window.keep(copy("foreign-1"));
  assert.equal(window.size, 2);
  assert.equal(window.acknowledge(`${ids.prefix}2`), false, "an id never kept");
  assert.equal(window.acknowledge(own), true);
  assert.equal(window.acknowledge(own), false, "once");
  assert.equal(window.undelivered("foreign-1"), true);
  assert.equal(window.size, 0);
  await Promise.resolve();
  assert.deepEqual(written, ["foreign-1"]);
  window.releaseAll();
});

Deno.test("kept copies: a copy named by its counter is taken by the counter or its id, written under its id", async () => {
  const ids = new KeptIds();
  const { window, written } = keptWindow(ids);
  const copy = (counter: number) => new KeptCopy(counter, ids, "d1", new Uint8Array(4), 0, "c1");
  const [a, b, c] = [ids.nextCounter(), ids.nextCounter(), ids.nextCounter()];
  for (const counter of [a, b, c]) window.keep(copy(counter));
  assert.equal(copy(b).envelopeId, ids.idOf(b));
  assert.equal(ids.keyOf(ids.idOf(b)), b, "the id reads back as its counter");
  assert.equal(window.acknowledge(a), true, "by its counter");
  assert.equal(
    window.acknowledge(ids.idOf(b)),
    true,
    "by its id (an Ack carried back as a string)",
  );
  assert.equal(window.acknowledge(b), false, "once");
  assert.equal(window.undelivered(c), true);
  await Promise.resolve();
  assert.deepEqual(written, [ids.idOf(c)], "the row is written under the id, not the counter");
  assert.throws(() => new KeptCopy(1, null, "d1", new Uint8Array(4), 0, "c1"), TypeError);
});
