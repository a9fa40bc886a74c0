import assert from "node:assert/strict";
import { FrameType, parseControl } from "../proto/mod.ts";
import { HandshakeError } from "./errors.ts";
import { fakeHello, fakeServer } from "./_handshake_fakes.ts";
import { plainHello, readAuthHandshake, readHello } from "./hello_check.ts";

const server = fakeServer();

function validHello(): Record<string, unknown> {
  const { frame } = fakeHello(server.serverStatic, {
    deviceId: "phone-1",
    seed: crypto.getRandomValues(new Uint8Array(32)),
    user: { handle: "alice", display_name: "Alice" },
  });
  return frame.control as Record<string, unknown>;
}

/** The fast check never accepts what the schema refuses, and returns the schema's value. */
function agrees(control: unknown): "plain" | "schema-only" | "refused" {
  const plain = plainHello(control);
  const parsed = parseControl(FrameType.Hello, control);
  if (plain !== null) {
    assert.ok(parsed.ok, `fast path accepted what the schema refuses: ${JSON.stringify(control)}`);
    assert.deepEqual(plain, parsed.value);
    return "plain";
  }
  return parsed.ok ? "schema-only" : "refused";
}

/** Each field replaced by values of other types, bounds and shapes. */
const VARIANTS: Record<string, unknown[]> = {
  pattern: ["IK", "XKhfs", "xk", "", "X".repeat(33), "X".repeat(32), 1, null],
  supported_versions: [[1, 2], [], [0xffff], [0x10000], [-1], [1.5], Array(17).fill(1), null, "1"],
  protocol_version: [1, 0, 0xffff, 0x10000, -1, 2.5, null, "1", 10n],
  device_id: ["a", "", "a@b", "-x", "x".repeat(128), "x".repeat(129), 5, null],
  handshake: ["00", "0", "zz", "", "ab".repeat(4096), "ab".repeat(4097), 1, null],
  client_static: ["a".repeat(64), "A".repeat(64), "a".repeat(63), "g".repeat(64), null],
  device_public: ["b".repeat(64), "b".repeat(66), 7, null],
  zkp: [{ commitment: "a".repeat(64), response: "b".repeat(64), extra: 1 }, {}, [], null, "x"],
  user: [
    null,
    {},
    { handle: "h".repeat(256) },
    { handle: "h".repeat(257) },
    { id: null, user_id: 3 },
    { avatar_url: "u".repeat(2049) },
    { display_name: "d".repeat(256), extra: [1] },
    [],
    "alice",
  ],
  certificate: [null, {}, { serial: 1 }, [], "cert", 3],
  capabilities: [null, [], ["ack-upto", 3, null], Array(32).fill("x"), Array(33).fill("x"), {}],
  device_ca_public: [null, "c".repeat(128), "c".repeat(129), 1],
  unknown_key: [1, null, { deep: true }],
};

Deno.test("a plainly valid Hello takes the fast path and equals the schema's value", () => {
  assert.equal(agrees(validHello()), "plain");
  const minimal = validHello();
  delete minimal.user;
  delete minimal.supported_versions;
  assert.equal(agrees(minimal), "plain");
});

Deno.test("the fast Hello check accepts only what the schema accepts, field by field", () => {
  const seen = { plain: 0, "schema-only": 0, refused: 0 };
  for (const [field, values] of Object.entries(VARIANTS)) {
    for (const value of values) {
      const control = validHello();
      control[field] = value;
      seen[agrees(control)]++;
    }
    const without = validHello();
    delete without[field];
    seen[agrees(without)]++;
  }
  for (const control of [null, [], "hello", 1, {}]) seen[agrees(control)]++;
  // Both outcomes are exercised: valid variants stay fast, invalid ones reach the schema.
  assert.ok(seen.plain > 20 && seen.refused > 30, JSON.stringify(seen));
});

Deno.test("an invalid Hello or Auth reports the schema's errors", () => {
  const control = validHello();
  control.client_static = "zz";
  assert.throws(
    () => readHello(control),
    (e) =>
      e instanceof HandshakeError && e.reason === "invalid_hello" &&
      e.message ===
        `invalid hello: ${(parseControl(FrameType.Hello, control) as { error: string }).error}`,
  );
  assert.equal(readAuthHandshake({ handshake: "abCD" }), "abCD");
  for (const bad of [{ handshake: "abc" }, { handshake: 1 }, {}, null]) {
    const expected = parseControl(FrameType.Auth, bad);
    assert.ok(!expected.ok);
    assert.throws(
      () => readAuthHandshake(bad),
      (e) =>
        e instanceof HandshakeError && e.reason === "invalid_auth" &&
        e.message === `invalid auth: ${expected.error}`,
    );
  }
});
