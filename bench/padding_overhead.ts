/**
 * Bandwidth overhead of padding (`pad1`, PROTOCOL.md §2 "Padding") per
 * workload class, measured on the wire: an in-process server and two SDK
 * devices on loopback TLS; every Noise transport message both devices send
 * and receive is counted (ciphertext + tag + the unit's varint prefix, i.e.
 * every byte of the `/connect` stream after the handshake) while one class
 * runs, once per policy (`off`, `classes`, `block:512`), the same frames
 * each time. Overhead = bytes(policy) / bytes(off) − 1. Bytes, not time: the
 * figures do not depend on the machine.
 *
 *   scripts/deno run -A bench/padding_overhead.ts
 *
 * Classes:
 * - control: Typing notices (a small JSON frame, routed and delivered), and
 *   the Acks and delivery Acks they cause;
 * - text: Msg of 4 sizes (12, 60, 180, 700 B of UTF-8) in turn;
 * - voice: 20 ms Opus packets of 60–100 B (24–40 kbit/s) in an accepted call,
 *   both directions, through the SFU;
 * - chunks: Msg of 16–64 KiB (file chunks), pseudo-random sizes.
 */
import {
  answerCall,
  type ClientOptions,
  CommuCatClient,
  offerCall,
  sendVoice,
} from "../src/client/mod.ts";
import {
  controlFrame,
  encodeFrame,
  FrameType,
  paddedLength,
  type PaddingPolicy,
  paddingPolicyText,
  varintLength,
} from "../src/proto/mod.ts";
import { befriend } from "../tests/helpers/api.ts";
import { connectOptions, newDevice } from "../tests/helpers/devices.ts";
import { startTestServer, type TestServer } from "../tests/helpers/inprocess.ts";

const ROUNDS = Number(Deno.args[0] ?? 100);
const TEXT_SIZES = [12, 60, 180, 700];
/** Largest routable payload (65 487 B): a 64 KiB chunk is capped to it. */
const MAX_CHUNK = 65_487;

type Workload = "control" | "text" | "voice" | "chunks";
const WORKLOADS: Workload[] = ["control", "text", "voice", "chunks"];

/** A tiny deterministic PRNG so every policy sees the same sizes. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Wire bytes seen by both devices (each unit once per side it crossed). */
class Meter {
  bytes = 0;
  messages = 0;
  /** What the sender (alice) wrote: the class's own messages, an Ack riding along at most. */
  sentBytes = 0;
  /** The class's own frames (encoded size, voice or not). */
  frames: { bytes: number; voice: boolean }[] = [];
  on = false;
  /** The counting hook for a device (`sender`: alice). */
  hook(sender: boolean) {
    return (direction: "in" | "out", bytes: number) => {
      if (!this.on) return;
      const wire = bytes + varintLength(bytes);
      this.bytes += wire;
      this.messages++;
      if (sender && direction === "out") this.sentBytes += wire;
    };
  }
}

async function nextOfType(client: CommuCatClient, type: FrameType): Promise<void> {
  while (true) {
    const frame = await client.next();
    if (frame === null) throw new Error("connection closed");
    if (frame.type === type) return;
  }
}

/** Waits until the SDK has flushed its delivery Acks and the server its replies. */
async function settle(client: CommuCatClient): Promise<void> {
  await client.request(FrameType.Presence, 0, { state: "online" });
}

async function runWorkload(
  channel: number,
  workload: Workload,
  alice: CommuCatClient,
  bob: CommuCatClient,
  meter: Meter,
): Promise<void> {
  const random = prng(7);
  meter.on = true;
  /** Encoded sizes of the class's own frames (a typical sequence number), for the per-frame figure. */
  const own = (type: FrameType, payload: Uint8Array) =>
    meter.frames.push({
      bytes: encodeFrame({ type, channel, sequence: 1000 + i, payload }).length,
      voice: type === FrameType.VoiceFrame,
    });
  let i = 0;
  for (; i < ROUNDS; i++) {
    switch (workload) {
      case "control":
        own(
          FrameType.Typing,
          controlFrame(FrameType.Typing, channel, 0, { typing: i % 2 === 0 }).payload,
        );
        await alice.request(FrameType.Typing, channel, { typing: i % 2 === 0 });
        await nextOfType(bob, FrameType.Typing);
        break;
      case "text": {
        const size = TEXT_SIZES[i % TEXT_SIZES.length];
        own(FrameType.Msg, new Uint8Array(size));
        await alice.send(channel, "x".repeat(size));
        await nextOfType(bob, FrameType.Msg);
        break;
      }
      case "voice": {
        const size = 60 + Math.floor(random() * 41);
        const packet = new Uint8Array(size).fill(0x55);
        packet[0] = 0xfc;
        own(FrameType.VoiceFrame, new Uint8Array(3 + size)); // media header + Opus packet
        await sendVoice(alice, channel, packet, false);
        await sendVoice(bob, channel, packet, false);
        await nextOfType(bob, FrameType.VoiceFrame);
        await nextOfType(alice, FrameType.VoiceFrame);
        break;
      }
      case "chunks": {
        const size = Math.min(MAX_CHUNK, 16 * 1024 + Math.floor(random() * 48 * 1024));
        own(FrameType.Msg, new Uint8Array(size));
        await alice.send(channel, new Uint8Array(size).fill(i & 0xff));
        await nextOfType(bob, FrameType.Msg);
        break;
      }
    }
  }
  // Let the delivery Acks of the last frames go out and be counted.
  await new Promise((resolve) => setTimeout(resolve, 50));
  meter.on = false;
}

async function measure(
  srv: TestServer,
  policy: PaddingPolicy,
  channel: number,
): Promise<Record<Workload, Counted>> {
  const meter = new Meter();
  const options = (device: ReturnType<typeof newDevice>, sender: boolean): ClientOptions =>
    connectOptions(srv, device, { padding: policy, onUnit: meter.hook(sender) });
  const aliceDevice = newDevice("alice");
  const bobDevice = newDevice("bob");
  const alice = await CommuCatClient.connect(options(aliceDevice, true));
  const bob = await CommuCatClient.connect(options(bobDevice, false));
  await befriend(srv, alice, bob);
  await alice.join(channel, [bobDevice.deviceId]);
  const audio = { sampleRate: 48000, channels: 1, bitrate: 32000, raw: false } as const;
  await offerCall(alice, channel, `bench-call-${channel}`, aliceDevice.deviceId, audio);
  await nextOfType(bob, FrameType.CallOffer);
  await answerCall(bob, channel, `bench-call-${channel}`, true);
  await settle(alice);
  await settle(bob);
  const out = {} as Record<Workload, Counted>;
  for (const workload of WORKLOADS) {
    meter.bytes = 0;
    meter.messages = 0;
    meter.sentBytes = 0;
    meter.frames = [];
    await runWorkload(channel, workload, alice, bob, meter);
    out[workload] = {
      bytes: meter.bytes,
      messages: meter.messages,
      sentBytes: meter.sentBytes,
      frames: meter.frames,
    };
  }
  await alice.closeGracefully();
  await bob.closeGracefully();
  return out;
}

interface Counted {
  bytes: number;
  messages: number;
  sentBytes: number;
  frames: { bytes: number; voice: boolean }[];
}

/** Wire bytes of `frames`, each alone in a message, under `policy`. */
function framesAlone(frames: { bytes: number; voice: boolean }[], policy: PaddingPolicy): number {
  let total = 0;
  for (const frame of frames) {
    const sealed = paddedLength(frame.bytes, policy, frame.voice) + 16;
    total += sealed + varintLength(sealed);
  }
  return total;
}

const POLICIES: PaddingPolicy[] = [
  { mode: "off" },
  { mode: "classes" },
  { mode: "block", block: 512 },
];

const srv = await startTestServer();
try {
  const results = [];
  for (const [i, policy] of POLICIES.entries()) {
    results.push({ policy, bytes: await measure(srv, policy, 70 + i) });
  }
  const off = results[0].bytes;
  const pct = (x: number, base: number) => `+${((x / base - 1) * 100).toFixed(1)}%`;
  console.log(`padding overhead, ${ROUNDS} rounds per class\n`);
  const names = results.slice(1).map((r) => paddingPolicyText(r.policy)).join(" / ");
  const all = results.map((r) => paddingPolicyText(r.policy)).join(" / ");
  console.log(
    `| class | wire B/round: ${all} | whole wire: ${names} | sender's messages: ${names} | ` +
      `class frames alone: ${names} |`,
  );
  console.log("| --- | --- | --- | --- | --- |");
  for (const workload of WORKLOADS) {
    const cells = results.map((r) => (r.bytes[workload].bytes / ROUNDS).toFixed(0)).join(" / ");
    const whole = results.slice(1).map((r) => pct(r.bytes[workload].bytes, off[workload].bytes));
    const sent = results.slice(1).map((r) =>
      pct(r.bytes[workload].sentBytes, off[workload].sentBytes)
    );
    const frames = off[workload].frames;
    const base = framesAlone(frames, { mode: "off" });
    const alone = results.slice(1).map((r) => pct(framesAlone(frames, r.policy), base));
    console.log(
      `| ${workload} | ${cells} | ${whole.join(" / ")} | ${sent.join(" / ")} | ${
        alone.join(" / ")
      } |`,
    );
  }
  console.log(
    "\nmessages per class (off, both devices):",
    WORKLOADS.map((w) => `${w} ${off[w].messages}`).join(", "),
  );
} finally {
  await srv.stop();
}
