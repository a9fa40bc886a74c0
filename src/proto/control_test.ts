import assert from "node:assert/strict";
import { defaultCallMediaProfile } from "./call.ts";
import { type ControlFrameType, formatIssuePath, parseControl } from "./control.ts";
import { FrameType } from "./frame_type.ts";

const HEX32 = "ab".repeat(32);

function hello(): Record<string, unknown> {
  return {
    pattern: "XK",
    device_id: "dev-1",
    handshake: "00ff",
    client_static: HEX32,
    device_public: HEX32.toUpperCase(),
    zkp: { commitment: HEX32, response: HEX32 },
  };
}

function expectOk(type: ControlFrameType, value: unknown): unknown {
  const result = parseControl(type, value);
  assert.ok(result.ok, result.ok ? "" : result.error);
  return result.value;
}

function expectError(type: ControlFrameType, value: unknown, startsWith: string): void {
  const result = parseControl(type, value);
  assert.ok(!result.ok, `expected an error for ${JSON.stringify(value)}`);
  assert.ok(
    result.error.startsWith(startsWith),
    `"${result.error}" should start with "${startsWith}"`,
  );
}

Deno.test("control: Hello accepts the minimal and the full form, passing unknown keys through", () => {
  expectOk(FrameType.Hello, hello());
  const full = {
    ...hello(),
    pattern: "IK",
    supported_versions: [1, 2],
    protocol_version: 1,
    user: { handle: "alice", display_name: null, extra: 1 },
    certificate: { serial: 18446744073709551615n, user_id: "u" },
    capabilities: ["noise", "zstd"],
    device_ca_public: "whatever",
    future_field: { x: 1 },
  };
  const parsed = expectOk(FrameType.Hello, full) as Record<string, unknown>;
  assert.deepEqual(parsed, full);
});

Deno.test("control: Hello errors name the field path", () => {
  expectError(
    FrameType.Hello,
    { ...hello(), zkp: { commitment: "zz", response: HEX32 } },
    "zkp.commitment: expected 64 hex characters",
  );
  expectError(FrameType.Hello, { ...hello(), pattern: "xk" }, "pattern: ");
  expectError(
    FrameType.Hello,
    { ...hello(), handshake: "abc" },
    "handshake: expected non-empty even-length hex",
  );
  expectError(FrameType.Hello, { ...hello(), handshake: "" }, "handshake: ");
  expectError(FrameType.Hello, { ...hello(), client_static: HEX32 + "00" }, "client_static: ");
  expectError(
    FrameType.Hello,
    { ...hello(), supported_versions: [] },
    "supported_versions: must not be empty",
  );
  expectError(
    FrameType.Hello,
    { ...hello(), supported_versions: [1, 70000] },
    "supported_versions[1]: ",
  );
  expectError(FrameType.Hello, { ...hello(), user: { handle: 5 } }, "user.handle: ");
  const missing = hello();
  delete missing.device_id;
  expectError(FrameType.Hello, missing, "device_id: required");
  expectError(FrameType.Hello, [], "(root): ");
  expectError(FrameType.Hello, null, "(root): ");
});

Deno.test("control: several problems are all reported, up to three", () => {
  const result = parseControl(FrameType.Hello, {});
  assert.ok(!result.ok);
  assert.match(
    result.error,
    /^pattern: .*; device_id: required; handshake: required; and \d+ more$/,
  );
});

Deno.test("control: Auth, Ack, Error, Presence", () => {
  expectOk(FrameType.Auth, { handshake: "AbCd" });
  expectError(FrameType.Auth, { handshake: 12 }, "handshake: ");
  assert.deepEqual(expectOk(FrameType.Ack, { ack: 4294967295, group_id: "g" }), {
    ack: 4294967295,
    group_id: "g",
  });
  expectError(FrameType.Ack, { ack: 4294967296 }, "ack: ");
  expectError(FrameType.Ack, { ack: -1 }, "ack: ");
  expectError(FrameType.Ack, { ack: 1.5 }, "ack: ");
  expectOk(FrameType.Error, {
    error: "handshake",
    detail: "x",
    title: "PairingRequired",
    pairing_required: true,
  });
  expectError(FrameType.Error, { detail: "x" }, "error: required");
  expectOk(FrameType.Presence, {});
  expectOk(FrameType.Presence, { state: "away" });
  expectError(FrameType.Presence, { state: 1 }, "state: ");
});

Deno.test("control: Join, Leave, Typing, KeyUpdate, GroupEvent", () => {
  expectOk(FrameType.Join, { relay: true, members: ["a", "b"], group_id: "g" });
  expectOk(FrameType.Join, {});
  expectError(FrameType.Join, { members: ["a", 2] }, "members[1]: ");
  expectError(FrameType.Join, { relay: "yes" }, "relay: ");
  for (
    const type of [
      FrameType.Leave,
      FrameType.Typing,
      FrameType.KeyUpdate,
      FrameType.GroupEvent,
    ] as const
  ) {
    expectOk(type, { anything: [1, 2] });
    expectError(type, "text", "(root): ");
  }
});

Deno.test("control: GroupCreate and GroupInvite read unknown roles as member", () => {
  const parsed = expectOk(FrameType.GroupCreate, {
    relay: false,
    members: ["b"],
    roles: { b: "admin", c: "superuser", d: "owner" },
  }) as { roles: Record<string, string> };
  assert.deepEqual(parsed.roles, { b: "admin", c: "member", d: "owner" });
  expectError(FrameType.GroupCreate, { roles: { b: 1 } }, "roles.b: ");
  assert.equal(
    (expectOk(FrameType.GroupInvite, { group_id: "g", device: "d", role: "boss" }) as {
      role: string;
    }).role,
    "member",
  );
  expectError(FrameType.GroupInvite, { group_id: "g" }, "device: required");
});

Deno.test("control: CallOffer applies upstream defaults", () => {
  const parsed = expectOk(FrameType.CallOffer, { call_id: "c1", from: "a", to: ["b"] }) as Record<
    string,
    unknown
  >;
  assert.deepEqual(parsed.media, defaultCallMediaProfile());
  assert.equal(parsed.metadata, null);
  const withMedia = expectOk(FrameType.CallOffer, {
    call_id: "c1",
    from: "a",
    to: ["b"],
    media: { audio: { codec: "raw_pcm", bitrate: 1, sample_rate: 8000, channels: 2 } },
    transport: { udp_candidates: [{ address: "203.0.113.1", port: 3478 }] },
  }) as {
    media: { audio: Record<string, unknown>; mode: string };
    transport: Record<string, unknown>;
  };
  assert.equal(withMedia.media.mode, "full_duplex");
  assert.equal(withMedia.media.audio.source, "encoded");
  assert.equal(withMedia.media.audio.fec, false);
  assert.deepEqual(withMedia.transport.candidates, [{
    address: "203.0.113.1",
    port: 3478,
    protocol: "udp",
  }]);
  assert.equal("udp_candidates" in withMedia.transport, false);
  expectError(
    FrameType.CallOffer,
    { call_id: "", from: "a", to: [] },
    "call_id: must not be empty",
  );
  expectError(FrameType.CallOffer, { call_id: "c", from: "a" }, "to: required");
  expectError(
    FrameType.CallOffer,
    {
      call_id: "c",
      from: "a",
      to: [],
      media: { audio: { codec: "mp3", bitrate: 1, sample_rate: 1, channels: 1 } },
    },
    "media.audio.codec: ",
  );
  expectError(
    FrameType.CallOffer,
    { call_id: "c", from: "a", to: [], transport: { candidates: [{ address: "x", port: 70000 }] } },
    "transport.candidates[0].port: ",
  );
});

Deno.test("control: CallAnswer, CallEnd, CallStats", () => {
  expectOk(FrameType.CallAnswer, {
    call_id: "c",
    accept: false,
    reason: "busy",
    video_hardware: "nvidia",
  });
  expectError(FrameType.CallAnswer, { call_id: "c" }, "accept: required");
  expectError(FrameType.CallAnswer, { call_id: "c", accept: true, reason: "nope" }, "reason: ");
  expectOk(FrameType.CallEnd, { call_id: "c", reason: "hangup", metadata: { system: true } });
  expectError(FrameType.CallEnd, { call_id: "c", reason: "bye" }, "reason: ");
  const stats = expectOk(FrameType.CallStats, {
    call_id: "c",
    direction: "send",
    audio: { bitrate: 100 },
  }) as {
    audio: Record<string, unknown>;
  };
  assert.equal(stats.audio.packet_loss, 0);
  assert.equal(stats.audio.jitter_ms, 0);
  expectError(FrameType.CallStats, { call_id: "c", direction: "up" }, "direction: ");
  expectError(
    FrameType.CallStats,
    { call_id: "c", direction: "send", video: {} },
    "video.bitrate: required",
  );
});

Deno.test("control: TransportUpdate is tagged by update", () => {
  expectOk(FrameType.TransportUpdate, {
    call_id: "c",
    update: "candidate",
    candidate: { address: "a", port: 1 },
  });
  expectOk(FrameType.TransportUpdate, {
    call_id: "c",
    update: "selected_candidate_pair",
    local: { address: "a", port: 1 },
    remote: { address: "b", port: 2, protocol: "tcp" },
    rtt_ms: 20,
  });
  expectOk(FrameType.TransportUpdate, {
    call_id: "c",
    update: "consent_keepalive",
    interval_secs: 15,
  });
  expectError(FrameType.TransportUpdate, { call_id: "c", update: "other" }, "update: ");
  expectError(
    FrameType.TransportUpdate,
    { call_id: "c", update: "candidate" },
    "candidate: required",
  );
  expectError(
    FrameType.TransportUpdate,
    {
      call_id: "c",
      update: "selected_candidate_pair",
      local: { address: "a", port: 1 },
      remote: { port: 2 },
    },
    "remote.address: required",
  );
});

Deno.test("control: opaque types have no schema", () => {
  const result = parseControl(FrameType.Msg, {});
  assert.deepEqual(result, { ok: false, error: "Msg frames carry no control payload" });
});

Deno.test("control: issue paths are formatted as a.b[2].c", () => {
  assert.equal(formatIssuePath([]), "(root)");
  assert.equal(formatIssuePath(["a", "b", 2, "c"]), "a.b[2].c");
  assert.equal(formatIssuePath([0, "x"]), "[0].x");
});
