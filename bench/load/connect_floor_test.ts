import assert from "node:assert/strict";
import { shareWithoutFloor } from "./connect_floor.ts";
import { attribute, componentOf } from "./cpu_profile.ts";

Deno.test("the bound share without the floor takes the floor off each handshake", () => {
  // 3 ms per handshake = 333/s; bound 1,000/s; floor 0.5 ms -> 2.5 ms = 400/s.
  const share = shareWithoutFloor(3, 0.5, 1_000);
  assert.ok(Math.abs(share.withFloor - 1 / 3) < 1e-9);
  assert.ok(Math.abs(share.withoutFloor - 0.4) < 1e-9);
});

Deno.test("profile samples go to the innermost frame of ours, else to the leaf", () => {
  assert.equal(componentOf("src/crypto/zkp.ts"), "ZKP verify");
  assert.equal(componentOf("src/storage/sqlite/db.ts"), "store (SQLite)");
  const frame = (functionName: string, url: string) => ({ functionName, url });
  const parts = attribute({
    nodes: [
      { id: 1, callFrame: frame("(root)", ""), children: [2, 4] },
      { id: 2, callFrame: frame("verify", "file:///repo/src/crypto/zkp.ts"), children: [3] },
      { id: 3, callFrame: frame("mul", "https://registry.npmjs.org/@noble/curves/x.js") },
      { id: 4, callFrame: frame("(garbage collector)", "") },
    ],
    samples: [3, 3, 4],
    timeDeltas: [10, 20, 5],
  });
  assert.deepEqual([...parts], [["ZKP verify", 30], ["(garbage collector)", 5]]);
});
