import assert from "node:assert/strict";
import { ConnectionCaps } from "./connection_caps.ts";

Deno.test("connection caps: per client, then in all; a release frees the slot once", () => {
  const caps = new ConnectionCaps({ maxTotal: 3, maxPerClient: 2 });
  const a1 = caps.open("a");
  const a2 = caps.open("a");
  assert.equal(typeof a1, "function");
  assert.equal(typeof a2, "function");
  assert.equal(caps.open("a"), "per_client");
  const b1 = caps.open("b");
  assert.equal(typeof b1, "function");
  assert.equal(caps.open("c"), "total");
  (a1 as () => void)();
  (a1 as () => void)(); // idempotent
  assert.equal(caps.stats().open, 2);
  assert.equal(typeof caps.open("c"), "function");
  assert.deepEqual(caps.stats(), { open: 3, clients: 3, refusedTotal: 1, refusedPerClient: 1 });
  (a2 as () => void)();
  assert.equal(caps.stats().clients, 2, "a client with no connection is forgotten");
});

Deno.test("connection caps refuse nonsense limits", () => {
  assert.throws(() => new ConnectionCaps({ maxTotal: 0, maxPerClient: 1 }), /maxTotal/);
  assert.throws(() => new ConnectionCaps({ maxTotal: 1, maxPerClient: 1.5 }), /maxPerClient/);
});

Deno.test("connection caps: a ticket holds a slot like open()'s release function, released once", () => {
  const caps = new ConnectionCaps({ maxTotal: 2, maxPerClient: 1 });
  const a = caps.admit("a");
  assert.ok(typeof a !== "string");
  assert.equal(caps.admit("a"), "per_client");
  const b = caps.open("b");
  assert.equal(typeof b, "function");
  assert.equal(caps.admit("c"), "total");
  a.release();
  a.release(); // idempotent
  assert.deepEqual(caps.stats(), { open: 1, clients: 1, refusedTotal: 1, refusedPerClient: 1 });
  const c = caps.admit("c");
  assert.ok(typeof c !== "string");
  assert.equal(caps.stats().open, 2);
});
