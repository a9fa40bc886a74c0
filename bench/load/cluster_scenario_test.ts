import assert from "node:assert/strict";
import { sumKept } from "./cluster_scenario.ts";

Deno.test("cluster: the instances' durable-copy windows add up; a missing one leaves none", () => {
  assert.deepEqual(
    sumKept([
      { written: 1, acknowledgedInWindow: 9, writtenShare: 0.1 },
      { written: 3, acknowledgedInWindow: 7, writtenShare: 0.3 },
    ]),
    { written: 4, acknowledgedInWindow: 16, writtenShare: 0.2 },
  );
  assert.equal(
    sumKept([{ written: 1, acknowledgedInWindow: 0, writtenShare: 1 }, undefined]),
    undefined,
  );
  assert.equal(sumKept([]), undefined);
  assert.deepEqual(sumKept([{ written: 0, acknowledgedInWindow: 0, writtenShare: null }]), {
    written: 0,
    acknowledgedInWindow: 0,
    writtenShare: null,
  });
});
