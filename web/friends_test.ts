import assert from "node:assert/strict";
import { friendshipChannel } from "./friends.ts";
import { explainConnectError, explainProblem } from "./rest.ts";

Deno.test("web: a friendship's channel is the same from both sides and above the reserved range", () => {
  const a = "a".repeat(64), b = "b".repeat(64);
  assert.equal(friendshipChannel(a, b), friendshipChannel(b, a));
  assert.notEqual(friendshipChannel(a, b), friendshipChannel(a, "c".repeat(64)));
  for (const other of ["x", "y", "z", "w"]) {
    const channel = friendshipChannel(a, other);
    assert.ok(channel >= 0x10000 && channel < 0x80000000, String(channel));
  }
});

Deno.test("web: server problems and refusals are put in words a person understands", () => {
  assert.equal(explainProblem(404, "pairing code not found"), "That pairing code does not exist.");
  assert.match(explainProblem(400, "pairing code invalid or expired"), /expired or was already/);
  assert.match(explainProblem(404, "user not found"), /Nobody with that handle/);
  assert.match(explainProblem(429, "too many requests"), /Wait a minute/);
  assert.match(explainProblem(503, "storage unavailable"), /server had a problem/);
  const taken = Object.assign(new Error("handshake: this handle is taken: pair the new device"), {
    body: { error: "handshake", pairing_required: true },
  });
  assert.match(explainConnectError(taken), /already taken/);
  assert.match(explainConnectError(new Error("websocket connect failed")), /Cannot reach/);
  assert.match(
    explainConnectError(new Error("invalid hello: user.handle: must not contain '@'")),
    /A handle may use letters/,
  );
});
