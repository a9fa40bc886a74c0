import assert from "node:assert/strict";
import { measureHybridReplyMs } from "./pq_cost.ts";

Deno.test("pq cost: a hybrid reply costs a positive, finite time", async () => {
  const ms = await measureHybridReplyMs(3);
  assert.ok(Number.isFinite(ms) && ms > 0, String(ms));
});
