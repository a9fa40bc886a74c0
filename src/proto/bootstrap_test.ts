import assert from "node:assert/strict";
import {
  authFrame,
  establishedAckFrame,
  helloFrame,
  userSnapshot,
  withAckCapabilities,
} from "./bootstrap.ts";
import { FrameType } from "./frame_type.ts";
import { parseControl } from "./control.ts";

const decoder = new TextDecoder();
const hex32 = "ab".repeat(32);
const user = { userId: "u1", handle: "alice", displayName: null, avatarUrl: null };

Deno.test("helloFrame: a Hello the server's schema accepts, certificate text spliced unchanged", () => {
  const certificateJson = '{"serial":18446744073709551615,"user_id":"u1"}';
  const frame = helloFrame({
    pattern: "XK",
    supportedVersions: [1],
    deviceId: "d1",
    handshake: "00ff",
    clientStatic: hex32,
    devicePublic: hex32,
    zkp: { commitment: hex32, response: hex32 },
    capabilities: ["ack-upto"],
    certificateJson,
  }, 1);
  assert.equal(frame.type, FrameType.Hello);
  assert.equal(frame.sequence, 1);
  const text = decoder.decode(frame.payload);
  assert.ok(text.endsWith(`,"certificate":${certificateJson}}`), text);
  const parsed = parseControl(FrameType.Hello, JSON.parse(text));
  assert.ok(parsed.ok, JSON.stringify(parsed));
});

Deno.test("authFrame: carries the handshake hex on the given channel", () => {
  const frame = authFrame(3, 2, "beef");
  assert.equal(frame.type, FrameType.Auth);
  assert.equal(frame.channel, 3);
  assert.deepEqual(JSON.parse(decoder.decode(frame.payload)), { handshake: "beef" });
});

Deno.test("establishedAckFrame: u64 serial survives, user snapshot and keys as announced", () => {
  const frame = establishedAckFrame({
    protocolVersion: 1,
    sessionId: "s",
    user,
    pairingRequired: false,
    deviceCaPublic: hex32,
    noiseKey: {
      publicKey: hex32,
      version: 2,
      rotatesAt: new Date(0),
      expiresAt: new Date(1000),
    },
    noiseKeys: [],
    keepaliveIntervalSeconds: 30,
    certificate: {
      json: '{"serial":18446744073709551615}',
      serial: 18446744073709551615n,
      issuedAt: 1,
      expiresAt: 2,
    },
  });
  const text = decoder.decode(frame.payload);
  assert.ok(text.includes('"certificate":{"serial":18446744073709551615,'), text);
  const ack = JSON.parse(text);
  assert.deepEqual(ack.user, userSnapshot(user));
  assert.equal(ack.noise_key_version, 2);
  assert.equal(ack.noise_expires_at, "1970-01-01T00:00:01.000Z");
});

Deno.test("withAckCapabilities: appends the list, every other byte unchanged", () => {
  const text =
    '{"handshake":"ok","user":{"display_name":"Zoë"},"device_certificate":{"serial":18446744073709551615}}';
  const ack = {
    type: FrameType.Ack,
    channel: 0,
    sequence: 0,
    payload: new TextEncoder().encode(text),
  };
  const out = withAckCapabilities(ack, ["pad1"]);
  assert.equal(decoder.decode(out.payload), `${text.slice(0, -1)},"capabilities":["pad1"]}`);
  assert.equal(out.type, FrameType.Ack);
  assert.throws(() => withAckCapabilities({ ...ack, payload: new Uint8Array(3) }, []), TypeError);
});
