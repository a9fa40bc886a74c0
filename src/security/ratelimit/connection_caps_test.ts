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
