import assert from "node:assert/strict";
import { type ControlFrameType, formatIssuePath, parseControl } from "./control.ts";
import { FrameType } from "./frame_type.ts";
import { Prng, randomJson, randomString } from "./_test_util.ts";

// ---------------------------------------------------------------------------
// Property test: random valid payloads are accepted; breaking one field is
// rejected with that field's path.

type Path = (string | number)[];
interface Sample {
  type: ControlFrameType;
  value: Record<string, unknown>;
  /** Fields that may be broken, with a value that is invalid there (undefined = delete). */
  breakable: [Path, unknown][];
}

function setPath(target: Record<string, unknown>, path: Path, value: unknown): void {
  let node = target as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function maybe(rng: Prng, target: Record<string, unknown>, key: string, value: unknown): void {
  if (rng.chance(0.5)) target[key] = value;
}

function candidate(rng: Prng): Record<string, unknown> {
  const c: Record<string, unknown> = {
    address: `10.0.0.${rng.below(256)}`,
    port: rng.below(65536),
  };
  maybe(rng, c, "protocol", rng.pick(["udp", "tcp"]));
  maybe(rng, c, "candidate_type", rng.pick(["host", "srflx", "prflx", "relay", null]));
  maybe(rng, c, "priority", rng.u32());
  return c;
}

const DEVICE_ID_CHARS = "abcXYZ0129._:-";

/** A valid device id (ids.ts): a letter or digit, then up to 30 id characters. */
function randomDeviceId(rng: Prng): string {
  let out = rng.pick([..."aZ7"]);
  const length = rng.below(31);
  for (let i = 0; i < length; i++) out += rng.pick([...DEVICE_ID_CHARS]);
  return out;
}

function randomSample(rng: Prng): Sample {
  const extra = (value: Record<string, unknown>) => {
    if (rng.chance(0.3)) value[`x_${randomString(rng, 4)}`] = randomJson(rng, 2);
    return value;
  };
  switch (rng.below(8)) {
    case 0: {
      const value = extra({
        pattern: rng.pick(["XK", "IK"]),
        device_id: randomDeviceId(rng),
        handshake: rng.hex(rng.range(1, 96)),
        client_static: rng.hex(32),
        device_public: rng.hex(32).toUpperCase(),
        zkp: { commitment: rng.hex(32), response: rng.hex(32) },
      });
      maybe(rng, value, "supported_versions", [1, rng.below(65536)]);
      maybe(rng, value, "user", { handle: randomString(rng), id: null });
      maybe(rng, value, "certificate", { serial: rng.u32() });
      return {
        type: FrameType.Hello,
        value,
        breakable: [
          [["pattern"], "X K"],
          [["device_id"], undefined],
          [["device_id"], rng.pick(["", `${randomDeviceId(rng)}@peer.example`, "a b"])],
          [["handshake"], rng.hex(3).slice(1)],
          [["client_static"], rng.hex(31)],
          [["device_public"], undefined],
          [["zkp", "commitment"], rng.hex(32).replace(/^./, "g")],
          [["zkp", "response"], 7],
          [["zkp"], "zkp"],
        ],
      };
    }
    case 1: {
      const members = Array.from({ length: rng.range(1, 4) }, () => randomString(rng));
      const value = extra({ members });
      maybe(rng, value, "relay", rng.chance(0.5));
      return {
        type: FrameType.Join,
        value,
        breakable: [[["members", rng.below(members.length)], rng.u32()], [["members"], "all"]],
      };
    }
    case 2:
      return {
        type: FrameType.GroupInvite,
        value: extra({ group_id: randomString(rng), device: randomString(rng), role: "admin" }),
        breakable: [[["group_id"], undefined], [["device"], null], [["role"], 3]],
      };
    case 3: {
      const value = extra({ call_id: "c" + randomString(rng), from: "a", to: ["b"] });
      maybe(rng, value, "transport", { candidates: [candidate(rng)], trickle: true });
      maybe(rng, value, "media", {
        audio: { codec: "opus", bitrate: rng.u32(), sample_rate: 48000, channels: rng.below(256) },
        mode: rng.pick(["full_duplex", "half_duplex"]),
      });
      const breakable: [Path, unknown][] = [[["call_id"], ""], [["from"], undefined], [
        ["to"],
        "b",
      ]];
      if (value.transport) breakable.push([["transport", "candidates", 0, "port"], -1]);
      if (value.media) {
        breakable.push([["media", "audio", "channels"], 256], [["media", "mode"], "simplex"]);
      }
      return { type: FrameType.CallOffer, value, breakable };
    }
    case 4:
      return {
        type: FrameType.CallAnswer,
        value: extra({ call_id: "c", accept: rng.chance(0.5), selected_video_codec: "vp9" }),
        breakable: [[["accept"], "yes"], [["selected_video_codec"], "vp7"], [
          ["call_id"],
          undefined,
        ]],
      };
    case 5: {
      const value = extra({ call_id: "c", direction: rng.pick(["send", "receive"]) });
      maybe(rng, value, "audio", { bitrate: rng.u32(), packet_loss: 0.5 });
      const breakable: [Path, unknown][] = [[["direction"], "both"], [["timestamp"], -5]];
      if (value.audio) breakable.push([["audio", "bitrate"], undefined]);
      return { type: FrameType.CallStats, value, breakable };
    }
    case 6:
      return {
        type: FrameType.TransportUpdate,
        value: extra({ call_id: "c", update: "candidate", candidate: candidate(rng) }),
        breakable: [[["candidate", "address"], undefined], [["candidate", "port"], 65536], [[
          "candidate",
          "protocol",
        ], "sctp"]],
      };
    default:
      return {
        type: FrameType.Ack,
        value: extra({ ack: rng.u32() }),
        breakable: [[["ack"], undefined], [["ack"], 2 ** 32], [["ack"], "1"]],
      };
  }
}

Deno.test("property: valid payloads pass; one broken field is reported by its path (1000 seeded cases)", () => {
  const rng = new Prng(5);
  for (let i = 0; i < 1000; i++) {
    const sample = randomSample(rng);
    const ok = parseControl(sample.type, sample.value);
    assert.ok(ok.ok, `iteration ${i}: ${ok.ok ? "" : ok.error}`);

    const [path, bad] = rng.pick(sample.breakable);
    const broken = structuredClone(sample.value);
    setPath(broken, path, bad);
    const result = parseControl(sample.type, broken);
    assert.ok(
      !result.ok,
      `iteration ${i}: ${formatIssuePath(path)} = ${JSON.stringify(bad)} accepted`,
    );
    assert.ok(
      result.error.startsWith(`${formatIssuePath(path)}: `),
      `iteration ${i}: "${result.error}" should name ${formatIssuePath(path)}`,
    );
  }
});
