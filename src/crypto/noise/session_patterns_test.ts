import assert from "node:assert/strict";
import { NoiseError } from "./errors.ts";
import {
  findSessionPattern,
  hybridOf,
  SERVER_SIGNATURE_DOMAIN,
  serverSignatureMessage,
  SESSION_PATTERN_NAMES,
  SESSION_PATTERN_ROWS,
  sessionPattern,
} from "./session_patterns.ts";

Deno.test("session patterns: XK, IK, then their hybrids, each a parsed Noise protocol", () => {
  assert.deepEqual(SESSION_PATTERN_NAMES, ["XK", "IK", "XKhfs", "IKhfs"]);
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
  const xkhfs = sessionPattern("XKhfs");
  assert.equal(xkhfs.messageCount, 3);
  assert.equal(xkhfs.hybrid, true);
  assert.equal(xkhfs.classical, "XK");
  assert.equal(sessionPattern("IKhfs").clientStaticInFirstMessage, true);
  assert.equal(xk.hybrid, false);
  assert.equal(hybridOf("XK")?.name, "XKhfs");
  assert.equal(hybridOf("IK")?.name, "IKhfs");
  assert.equal(hybridOf("IKhfs")?.name, "IKhfs");
  assert.equal(hybridOf("NN"), undefined);
});

Deno.test("session patterns: the server signs domain ‖ 0x00 ‖ h", () => {
  const h = new Uint8Array(32).fill(7);
  const message = serverSignatureMessage(h);
  const prefix = new TextEncoder().encode(SERVER_SIGNATURE_DOMAIN);
  assert.deepEqual(message.subarray(0, prefix.length), prefix);
  assert.equal(message[prefix.length], 0);
  assert.deepEqual(message.subarray(prefix.length + 1), h);
});

Deno.test("session patterns: an unknown name is refused naming the ones we have", () => {
  assert.equal(findSessionPattern("NN"), undefined);
  assert.equal(findSessionPattern("toString"), undefined);
  assert.throws(
    () => sessionPattern("NN"),
    (err) =>
      err instanceof NoiseError && err.code === "unsupported-protocol" &&
      err.message === 'unsupported handshake pattern "NN" (have XK, IK, XKhfs, IKhfs)',
  );
});
