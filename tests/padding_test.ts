/**
 * Padding over real HTTPS (PROTOCOL.md §2 "Padding", capability `pad1`):
 * a capture of every Noise transport message of a mixed workload (control,
 * text of many sizes, call voice, 16–64 KiB chunks), both directions, shows
 * only the policy's size classes; without `pad1` (client or server off) the
 * wire is upstream's; malformed padding gets a clear `decode` Error and
 * the connection closes; a message of padding only (cover traffic) is
 * ignored and the session goes on.
 */
import assert from "node:assert/strict";
import {
  answerCall,
  type ClientOptions,
  CommuCatClient,
  offerCall,
  sendVoice,
  startCoverTraffic,
} from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import {
  controlFrame,
  encodeFrame,
  FrameType,
  isPaddedSize,
  PAD1_CAPABILITY,
  type PaddingPolicy,
  padPlaintext,
} from "../src/proto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { openRawSession, type RawSession, within } from "./helpers/raw.ts";

/** The Poly1305 tag every transport message carries beyond its plaintext. */
const TAG = 16;
const CHANNEL = 31;

/** Sizes of the transport messages (plaintext bytes: ciphertext minus the tag) one client saw. */
interface Capture {
  out: number[];
  in: number[];
}

async function connectCapturing(
  srv: TestServer,
  device: TestDevice,
  extra: Partial<ClientOptions> = {},
): Promise<{ client: CommuCatClient; capture: Capture }> {
  const capture: Capture = { out: [], in: [] };
  const client = await CommuCatClient.connect(connectOptions(srv, device, {
    ...extra,
    onUnit: (direction, bytes) => capture[direction].push(bytes - TAG),
  }));
  return { client, capture };
}

/** The next delivered frame of `type` (others skipped). */
async function nextOfType(client: CommuCatClient, type: FrameType, what: string) {
  while (true) {
    const frame = await within(client.next(), what);
    assert.ok(frame, `the connection closed before ${what}`);
    if (frame.type === type) return frame;
  }
}

const TEXT_SIZES = [1, 17, 80, 200, 700, 1500, 4000, 9000];
const CHUNK_SIZES = [16 * 1024, 20_000, 33_333, 48 * 1024, 60_000, 65_000];
const VOICE_PACKETS = [40, 60, 80, 100, 120];

/**
 * Runs the mixed workload between alice and bob: control (join, presence,
 * acks), texts, chunks and — in an accepted call — voice both ways.
 * Checks everything arrives intact.
 */
async function mixedWorkload(
  alice: CommuCatClient,
  bob: CommuCatClient,
  bobDevice: TestDevice,
  srv: TestServer,
  aliceId: string,
): Promise<void> {
  await befriend(srv, alice, bob);
  await alice.join(CHANNEL, [bobDevice.deviceId]);
  await alice.request(FrameType.Presence, 0, { state: "online" });
  for (const size of [...TEXT_SIZES, ...CHUNK_SIZES]) {
    const body = new Uint8Array(size).fill(size % 251);
    await alice.send(CHANNEL, body);
    const got = await nextOfType(bob, FrameType.Msg, `a ${size}-byte message`);
    assert.deepEqual(got.payload, body);
  }
  await bob.send(CHANNEL, "pong");
  assert.equal(fromUtf8((await nextOfType(alice, FrameType.Msg, "pong")).payload), "pong");
  const audio = { sampleRate: 48000, channels: 1, bitrate: 32000, raw: false } as const;
  await offerCall(alice, CHANNEL, "pad-call", aliceId, audio);
  await nextOfType(bob, FrameType.CallOffer, "the call offer");
  await answerCall(bob, CHANNEL, "pad-call", true);
  for (const size of VOICE_PACKETS) {
    // A TOC byte of a 20 ms CELT frame, then filler: an Opus packet the SFU forwards as is.
    const packet = new Uint8Array(size).fill(0x55);
    packet[0] = 0xfc;
    await sendVoice(alice, CHANNEL, packet, false);
    await sendVoice(bob, CHANNEL, packet, false);
  }
  await nextOfType(bob, FrameType.VoiceFrame, "alice's voice at bob");
  await nextOfType(alice, FrameType.VoiceFrame, "bob's voice at alice");
}

Deno.test("padding e2e: a capture of a mixed workload shows only the classes policy's sizes", async () => {
  const srv = await startTestServer();
  try {
    const aliceDevice = newDevice("alice");
    const bobDevice = newDevice("bob");
    const a = await connectCapturing(srv, aliceDevice);
    const b = await connectCapturing(srv, bobDevice);
    const classes: PaddingPolicy = { mode: "classes" };
    assert.deepEqual(a.client.padding, classes);
    assert.ok((a.client.session.ack.capabilities as string[]).includes(PAD1_CAPABILITY));
    await mixedWorkload(a.client, b.client, bobDevice, srv, aliceDevice.deviceId);
    const sizes = [...a.capture.out, ...a.capture.in, ...b.capture.out, ...b.capture.in];
    const off = sizes.filter((size) => !isPaddedSize(size, classes));
    assert.deepEqual(off, [], "sizes outside the policy's classes");
    const seen = new Set(sizes);
    // Voice both ways at 160, control at 256, texts at powers of two, chunks at Padmé sizes.
    for (const size of [160, 256, 1024, 2048, 4096, 16384, 17 * 1024, 65519]) {
      assert.ok(
        seen.has(size),
        `expected a ${size}-byte message; saw ${[...seen].sort((x, y) => x - y)}`,
      );
    }
    assert.ok([...seen].some((size) => size > 16384 && size < 65519), "a Padmé size above 16 KiB");
    a.client.close();
    b.client.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("padding e2e: block:512 on both sides pads every message to a multiple of 512", async () => {
  const block: PaddingPolicy = { mode: "block", block: 512 };
  const srv = await startTestServer({ padding: block });
  try {
    const aliceDevice = newDevice("alice");
    const bobDevice = newDevice("bob");
    const a = await connectCapturing(srv, aliceDevice, { padding: block });
    const b = await connectCapturing(srv, bobDevice, { padding: block });
    await mixedWorkload(a.client, b.client, bobDevice, srv, aliceDevice.deviceId);
    const sizes = [...a.capture.out, ...a.capture.in, ...b.capture.out, ...b.capture.in];
    assert.deepEqual(sizes.filter((size) => !isPaddedSize(size, block)), []);
    a.client.close();
    b.client.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("padding e2e: without pad1 (client off, or server off) the wire is unpadded and chat works", async () => {
  for (const side of ["client", "server"] as const) {
    const srv = await startTestServer(side === "server" ? { padding: { mode: "off" } } : {});
    try {
      const extra: Partial<ClientOptions> = side === "client" ? { padding: { mode: "off" } } : {};
      const aliceDevice = newDevice("alice");
      const bobDevice = newDevice("bob");
      const a = await connectCapturing(srv, aliceDevice, extra);
      const b = await connectCapturing(srv, bobDevice, extra);
      assert.equal(a.client.padding, null, `${side} off: no padding`);
      assert.ok(!(a.client.session.ack.capabilities as string[]).includes(PAD1_CAPABILITY));
      await befriend(srv, a.client, b.client);
      await a.client.join(CHANNEL, [bobDevice.deviceId]);
      await a.client.send(CHANNEL, "plain");
      const got = await nextOfType(b.client, FrameType.Msg, "the message");
      assert.equal(fromUtf8(got.payload), "plain");
      // Exactly the frames: a 5-byte Msg is far below the 256-byte floor.
      const sizes = [...a.capture.out, ...b.capture.in];
      assert.ok(sizes.some((size) => size < 100), `${side} off: small messages stay small`);
      a.client.close();
      b.client.close();
    } finally {
      await srv.stop();
    }
  }
});

/** A raw session that asked for pad1 (its Ack is padded and says so). */
async function paddedRawSession(srv: TestServer): Promise<RawSession> {
  const session = await openRawSession(srv, newDevice("raw"), {
    edit: (fields) => (fields.capabilities = [PAD1_CAPABILITY]),
  });
  assert.deepEqual(session.ack.capabilities, [PAD1_CAPABILITY]);
  return session;
}

function presence(sequence: number): Uint8Array {
  return encodeFrame(controlFrame(FrameType.Presence, 0, sequence, { state: "online" }));
}

Deno.test("padding e2e: malformed padding gets a decode Error naming it, then the close", async () => {
  const srv = await startTestServer();
  try {
    const cases: [string, (session: RawSession) => Uint8Array, RegExp][] = [
      [
        "a non-zero byte after the marker",
        () => {
          const padded = padPlaintext(presence(1), { mode: "classes" });
          padded[padded.length - 1] = 0x2a;
          return padded;
        },
        /non-zero byte after the end marker/,
      ],
      [
        "a frame length that lies",
        () => {
          const padded = padPlaintext(presence(1), { mode: "classes" });
          padded[0] = 0xff;
          padded[1] = 0x7f; // far beyond the 256-byte message
          return padded;
        },
        /runs past the end of its transport message/,
      ],
      [
        "a frame split across two messages",
        () => presence(1).subarray(0, 10),
        /runs past the end of its transport message/,
      ],
    ];
    for (const [what, plaintext, detail] of cases) {
      const session = await paddedRawSession(srv);
      session.conn.write(session.sealUnit(plaintext(session)));
      const error = await session.expect(FrameType.Error, `the Error for ${what}`);
      assert.equal(error.error, "decode", what);
      assert.match(String(error.detail), detail, what);
      assert.deepEqual(await session.conn.expectClosed(), [], `${what}: closed after the Error`);
    }
  } finally {
    await srv.stop();
  }
});

Deno.test("padding e2e: cover traffic (padding only) is ignored; unpadded whole frames are read too", async () => {
  const srv = await startTestServer();
  try {
    const session = await paddedRawSession(srv);
    session.conn.write(session.sealUnit(new Uint8Array(160)));
    session.conn.write(session.sealUnit(new Uint8Array(0)));
    // Whole frames without a marker are a valid pad1 message.
    session.conn.write(session.sealUnit(presence(1)));
    const ack = await session.expect(FrameType.Ack, "the Presence Ack");
    assert.equal(ack.ack, 1);
    // The SDK's cover messages are voice-sized and change nothing either.
    const device = newDevice("cover");
    const { client, capture } = await connectCapturing(srv, device);
    client.sendCover();
    client.sendCover();
    const reply = await client.request(FrameType.Presence, 0, { state: "online" });
    assert.equal(reply.ack, reply.sequence);
    assert.deepEqual(capture.out.slice(0, 2), [160, 160]);
    client.close();
    await session.conn.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("padding e2e: the SDK refuses cover traffic without pad1", async () => {
  const srv = await startTestServer({ padding: { mode: "off" } });
  try {
    const client = await CommuCatClient.connect(connectOptions(srv, newDevice("nocover")));
    assert.throws(() => client.sendCover(), /cover traffic needs pad1/);
    assert.throws(() => startCoverTraffic(client), /cover traffic needs pad1/);
    client.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("padding e2e: cover traffic fills the gaps while nothing else is sent, and stops", async () => {
  const srv = await startTestServer();
  try {
    const { client, capture } = await connectCapturing(srv, newDevice("coverloop"));
    const cover = startCoverTraffic(client, { intervalMs: 5 });
    // Wait (bounded) for a few cover messages; every one is voice-sized.
    await within(
      (async () => {
        while (cover.sent < 5) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      "five cover messages",
    );
    cover.stop();
    const sent = cover.sent;
    assert.ok(capture.out.filter((size) => size === 160).length >= 5, `sent ${capture.out}`);
    // The session is intact, and a stopped loop sends nothing more.
    const reply = await client.request(FrameType.Presence, 0, { state: "online" });
    assert.equal(reply.ack, reply.sequence);
    assert.equal(cover.sent, sent);
    client.close();
  } finally {
    await srv.stop();
  }
});
