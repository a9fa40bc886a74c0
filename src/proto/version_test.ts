import assert from "node:assert/strict";
import {
  isSupportedProtocolVersion,
  negotiateProtocolVersion,
  PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "./version.ts";

Deno.test("version: constants", () => {
  assert.equal(PROTOCOL_VERSION, 1);
  assert.deepEqual([...SUPPORTED_PROTOCOL_VERSIONS], [1]);
});

Deno.test("version: negotiation picks the highest common version", () => {
  assert.equal(negotiateProtocolVersion([0, 1, 2]), 1);
  assert.equal(negotiateProtocolVersion([2, 1, 1]), 1);
  assert.equal(negotiateProtocolVersion([42, 43]), undefined);
  assert.equal(negotiateProtocolVersion([]), undefined);
});

Deno.test("version: support predicate", () => {
  assert.equal(isSupportedProtocolVersion(1), true);
  assert.equal(isSupportedProtocolVersion(6), false);
  assert.equal(isSupportedProtocolVersion(0), false);
});
