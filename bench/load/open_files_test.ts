import assert from "node:assert/strict";
import {
  filesPerIdleConnection,
  idleConnectionCap,
  idleFilesFit,
  RESERVED_FILES,
} from "./open_files.ts";

Deno.test("open files: a pumped idle connection holds three, a direct one one", () => {
  assert.equal(filesPerIdleConnection(true), 3);
  assert.equal(filesPerIdleConnection(false), 1);
  assert.equal(idleConnectionCap(20_000, true), 6_333);
  assert.equal(idleConnectionCap(20_000, false), 19_000);
  assert.equal(idleConnectionCap(RESERVED_FILES - 1, false), 0);
});

Deno.test("open files: an idle phase fits with its 200 warm connections, or not", () => {
  // 6,000 + 200 warm pumped connections: 18,600 files + 1,000 kept, under 20,000.
  assert.equal(idleFilesFit(20_000, 6_000, true), true);
  // 6,200 + 200: 19,200 + 1,000 > 20,000 — the pumped floor would run out of descriptors.
  assert.equal(idleFilesFit(20_000, 6_200, true), false);
  assert.equal(idleFilesFit(20_000, 6_200, false), true);
  // A small phase's warm-up is as large as the phase.
  assert.equal(idleFilesFit(1_300, 50, true), true);
  assert.equal(idleFilesFit(1_300, 51, true), false);
});
