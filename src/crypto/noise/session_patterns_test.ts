import assert from "node:assert/strict";
import { NoiseError } from "./errors.ts";
import {
  findSessionPattern,
  SESSION_PATTERN_NAMES,
  SESSION_PATTERN_ROWS,
  sessionPattern,
} from "./session_patterns.ts";

Deno.test("session patterns: XK then IK, each a parsed Noise protocol", () => {
  assert.deepEqual(SESSION_PATTERN_NAMES, ["XK", "IK"]);
  for (const name of SESSION_PATTERN_NAMES) {
    const row = sessionPattern(name);
    assert.equal(row.protocolName, SESSION_PATTERN_ROWS[name]);
    assert.equal(row.protocol.pattern.name, name);
  }
});

Deno.test("session patterns: what the session does follows from the pattern, not its name", () => {
  const xk = sessionPattern("XK");
  assert.equal(xk.messageCount, 3);
  assert.equal(xk.clientStaticInFirstMessage, false);
  const ik = sessionPattern("IK");
  assert.equal(ik.messageCount, 2);
  assert.equal(ik.clientStaticInFirstMessage, true);
});

Deno.test("session patterns: an unknown name is refused naming the ones we have", () => {
  assert.equal(findSessionPattern("NN"), undefined);
  assert.equal(findSessionPattern("toString"), undefined);
  assert.throws(
    () => sessionPattern("NN"),
    (err) =>
      err instanceof NoiseError && err.code === "unsupported-protocol" &&
      err.message === 'unsupported handshake pattern "NN" (have XK, IK)',
  );
});
