import assert from "node:assert/strict";
import { promotedBySite, type SamplingNode } from "./promoted_profile.ts";

function node(
  functionName: string,
  url: string,
  selfSize: number,
  children: SamplingNode[] = [],
): SamplingNode {
  return {
    callFrame: { functionName, url, lineNumber: 9, columnNumber: 0 },
    selfSize,
    id: 0,
    children,
  };
}

Deno.test("promotedBySite: bytes by allocating frame and by the nearest frame of ours", () => {
  const head = node("(root)", "", 0, [
    node("route", "file:///repo/src/router/router.ts", 100, [
      node("Uint8Array", "", 40),
      node("emit", "ext:deno_websocket/01_websocket.js", 60),
    ]),
    node("emit", "ext:deno_websocket/01_websocket.js", 8),
  ]);
  const { byFrame, byOwnFrame, total } = promotedBySite(head, /\/src\//);
  assert.equal(total, 208);
  assert.equal(byFrame.get("route src/router/router.ts:10"), 100);
  assert.equal(byFrame.get("emit ext:deno_websocket/01_websocket.js:10"), 68);
  assert.equal(byOwnFrame.get("route src/router/router.ts:10"), 200);
  assert.equal(byOwnFrame.get("(no frame of ours)"), 8);
});
