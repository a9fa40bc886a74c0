/**
 * Bad input on `/connect`, end to end through real TLS connections: every kind
 * of garbage, forgery, replay or misbehaviour gets an Error frame or a close,
 * and every other session keeps working (each test keeps a healthy pair of
 * clients exchanging messages across the abuse).
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import {
  fromUtf8,
  publicFromSeed,
  toHex,
  utf8,
  x25519PublicFromPrivate,
  zkpContext,
} from "../src/crypto/mod.ts";
import { encodeFrame, FrameType } from "../src/proto/mod.ts";
import type { ServerSettings } from "../src/server/mod.ts";
import type { ConnectMode } from "../src/transport/mod.ts";
import { befriend, partyOf } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import {
  authReply,
  expectRefused,
  type HealthyPair,
  healthyPair,
  type HelloOptions,
  makeHello,
  RawConnection,
  rawHandshake,
  type RawSession,
  within,
} from "./helpers/raw.ts";

const MODES: ConnectMode[] = ["binary", "sse", "long-poll", "websocket"];

/** What a test body gets: the server, the bystanders, and raw connections closed for it. */
interface Abuse {
  srv: TestServer;
  pair: HealthyPair;
  open(mode?: ConnectMode): Promise<RawConnection>;
  openHalfClosable(): Promise<RawConnection>;
  session(device: TestDevice, options?: HelloOptions): Promise<RawSession>;
}

/**
 * A test on a fresh server with a healthy pair connected before the abuse and
 * exchanging messages after it.
 */
function abuseTest(
  name: string,
  settings: Partial<ServerSettings>,
  body: (t: Abuse) => Promise<void>,
): void {
  Deno.test(name, async () => {
    const srv = await startTestServer(settings);
    const raw: RawConnection[] = [];
    const track = (conn: RawConnection) => (raw.push(conn), conn);
    try {
      const pair = await healthyPair(srv);
      try {
        await body({
          srv,
          pair,
          open: async (mode) => track(await RawConnection.open(srv, mode)),
          openHalfClosable: async () => track(await RawConnection.openHalfClosable(srv)),
          session: async (device, options) =>
            await rawHandshake(
              track(await RawConnection.open(srv)),
              makeHello(srv, device, options),
            ),
        });
        await pair.exchange("after");
      } finally {
        await Promise.all(raw.map((conn) => conn.close()));
        await pair.close();
      }
    } finally {
      await srv.stop();
    }
  });
}

/** Nothing about the device was written (the handshake never proved its keys). */
async function assertNotRegistered(srv: TestServer, device: TestDevice): Promise<void> {
  assert.equal(await srv.server.store.getDevice(device.deviceId), null);
}

function flipHexByte(hex: string, index: number): string {
  const byte = parseInt(hex.slice(2 * index, 2 * index + 2), 16) ^ 0x01;
  return hex.slice(0, 2 * index) + byte.toString(16).padStart(2, "0") + hex.slice(2 * index + 2);
}

function randomKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

// ---- 1. garbage instead of a Hello ----

for (const mode of MODES) {
  abuseTest(`garbage instead of a Hello over ${mode}: decode Error, then close`, {}, async (t) => {
    const conn = await t.open(mode);
    // An HTTP request line: 'G' reads as a 71-byte body whose type byte 'E' is no frame type.
    conn.write(utf8("GET /connect HTTP/1.1\r\nHost: commucat.example\r\n".padEnd(100, "x")));
    const error = await expectRefused(conn);
    assert.equal(error.error, "decode");
    assert.equal(error.detail, "invalid frame type");
  });
}

abuseTest("a lone zero byte is an empty frame, not a stall", {}, async (t) => {
  const conn = await t.open();
  conn.write(new Uint8Array([0x00]));
  const error = await expectRefused(conn);
  assert.equal(error.error, "decode");
  assert.equal(error.detail, "empty frame");
});

abuseTest("a well-formed frame that is not a Hello is a handshake error", {}, async (t) => {
  const conn = await t.open();
  conn.write(encodeFrame({ type: FrameType.Msg, channel: 1, sequence: 1, payload: utf8("hi") }));
  const error = await expectRefused(conn);
  assert.equal(error.error, "handshake");
  assert.equal(error.detail, "expected hello, got msg");
});

// ---- 2. a length prefix over the limit ----

abuseTest("a length prefix over 16 MiB is refused at once", {}, async (t) => {
  const conn = await t.open();
  // 16 777 217: only the 4 prefix bytes are sent, so an answer proves the server did not wait.
  conn.write(new Uint8Array([0x81, 0x80, 0x80, 0x08]));
  const error = await expectRefused(conn);
  assert.equal(error.error, "decode");
  assert.equal(error.detail, "frame exceeds limits");

  // A prefix that never ends (eleven continuation bytes) is no better.
  const endless = await t.open();
  endless.write(new Uint8Array(11).fill(0xff));
  assert.equal((await expectRefused(endless)).error, "decode");
});

abuseTest(
  "after the handshake, an oversized unit or frame prefix is refused at once",
  {},
  async (t) => {
    // Unit prefix: the unit itself claims 16 MiB + 1.
    const a = await t.session(newDevice("unit"));
    a.conn.write(new Uint8Array([0x81, 0x80, 0x80, 0x08]));
    const unitError = await a.expect(FrameType.Error, "the unit-length Error");
    assert.equal(unitError.error, "decode");
    assert.equal(unitError.detail, "frame exceeds limits");
    assert.equal(await a.next("the close"), null);

    // Frame prefix inside a valid unit.
    const b = await t.session(newDevice("frame"));
    b.conn.write(b.sealUnit(new Uint8Array([0x81, 0x80, 0x80, 0x08])));
    const frameError = await b.expect(FrameType.Error, "the frame-length Error");
    assert.equal(frameError.error, "decode");
    assert.equal(frameError.detail, "frame exceeds limits");
    assert.equal(await b.next("the close"), null);
  },
);

// ---- 3. a truncated frame, then the client ends its upstream ----

abuseTest("a truncated Hello followed by the end of the upstream closes quietly", {}, async (t) => {
  const device = newDevice("trunc");
  const conn = await t.openHalfClosable();
  const hello = makeHello(t.srv, device).bytes;
  conn.write(hello.subarray(0, hello.length >> 1));
  conn.endUpstream();
  assert.deepEqual(await conn.expectClosed(), []);
  await assertNotRegistered(t.srv, device);
});

abuseTest("a truncated unit followed by the end of the upstream closes quietly", {}, async (t) => {
  const conn = await t.openHalfClosable();
  const session = await rawHandshake(conn, makeHello(t.srv, newDevice("trunc")));
  const unit = session.sealUnit(
    encodeFrame({ type: FrameType.Join, channel: 9, sequence: 1, payload: utf8("{}") }),
  );
  conn.write(unit.subarray(0, unit.length - 5));
  conn.endUpstream();
  assert.deepEqual(await conn.expectClosed(), []);
});

// ---- 4. an unknown frame type ----

/** Body: type 0x7f, channel 0, sequence 1, empty payload. */
const UNKNOWN_TYPE_FRAME = new Uint8Array([0x04, 0x7f, 0x00, 0x01, 0x00]);

abuseTest("an unknown frame type (0x7f) gets a decode Error", {}, async (t) => {
  const conn = await t.open();
  conn.write(UNKNOWN_TYPE_FRAME);
  const error = await expectRefused(conn);
  assert.equal(error.error, "decode");
  assert.equal(error.detail, "invalid frame type");

  // After the handshake it is a protocol break as well: Error, then close.
  const session = await t.session(newDevice("unknown"));
  session.conn.write(session.sealUnit(UNKNOWN_TYPE_FRAME));
  const late = await session.expect(FrameType.Error, "the decode Error");
  assert.equal(late.error, "decode");
  assert.equal(late.detail, "invalid frame type");
  assert.equal(await session.next("the close"), null);
});

// ---- 5. malformed Hello JSON and fields ----

abuseTest("a Hello with invalid JSON gets a decode Error", {}, async (t) => {
  const conn = await t.open();
  conn.write(
    encodeFrame({
      type: FrameType.Hello,
      channel: 0,
      sequence: 1,
      payload: utf8('{"pattern":"XK","device_id":'),
    }),
  );
  const error = await expectRefused(conn);
  assert.equal(error.error, "decode");
  assert.equal(error.detail, "invalid control payload");
});

const BAD_FIELDS: { name: string; path: string; edit: (f: Record<string, unknown>) => void }[] = [
  {
    name: "missing zkp.commitment",
    path: "zkp.commitment",
    edit: (f) => delete (f.zkp as Record<string, unknown>).commitment,
  },
  {
    name: "numeric zkp.commitment",
    path: "zkp.commitment",
    edit: (f) => ((f.zkp as Record<string, unknown>).commitment = 42),
  },
  { name: "numeric device_id", path: "device_id", edit: (f) => (f.device_id = 7) },
  {
    name: "short client_static",
    path: "client_static",
    edit: (f) => (f.client_static = "abcd"),
  },
  { name: "unknown pattern", path: "pattern", edit: (f) => (f.pattern = "NN") },
  { name: "non-hex handshake", path: "handshake", edit: (f) => (f.handshake = "zz") },
];

abuseTest("a Hello with a missing or ill-typed field names the field", {}, async (t) => {
  for (const bad of BAD_FIELDS) {
    const device = newDevice("field");
    const conn = await t.open();
    conn.write(makeHello(t.srv, device, { edit: bad.edit }).bytes);
    const error = await expectRefused(conn);
    assert.equal(error.error, "handshake", bad.name);
    assert.match(String(error.detail), /^invalid hello: /, bad.name);
    assert.ok(
      String(error.detail).includes(`${bad.path}: `),
      `${bad.name}: "${error.detail}" should name ${bad.path}`,
    );
    await assertNotRegistered(t.srv, device);
  }
});

// ---- 6. a wrong key proof ----

abuseTest("a key proof for another context or with a flipped byte is refused", {}, async (t) => {
  const cases: { name: string; options: (d: TestDevice) => HelloOptions }[] = [
    {
      name: "proof made for another domain",
      options: (d) => ({
        proofContext: zkpContext(
          "elsewhere.example",
          d.deviceId,
          publicFromSeed(d.privateKey),
          x25519PublicFromPrivate(d.privateKey),
        ),
      }),
    },
    {
      name: "proof made for another client static",
      options: (d) => ({
        proofContext: zkpContext(
          t.srv.domain,
          d.deviceId,
          publicFromSeed(d.privateKey),
          x25519PublicFromPrivate(randomKey()),
        ),
      }),
    },
    {
      name: "flipped response byte",
      options: () => ({
        edit: (f) => {
          const zkp = f.zkp as { response: string };
          zkp.response = flipHexByte(zkp.response, 0);
        },
      }),
    },
    {
      name: "flipped commitment byte",
      options: () => ({
        edit: (f) => {
          const zkp = f.zkp as { commitment: string };
          zkp.commitment = flipHexByte(zkp.commitment, 5);
        },
      }),
    },
  ];
  for (const pattern of ["XK", "IK"] as const) {
    for (const c of cases) {
      const device = newDevice("zkp");
      const conn = await t.open();
      conn.write(makeHello(t.srv, device, { pattern, ...c.options(device) }).bytes);
      const error = await expectRefused(conn);
      assert.equal(error.error, "handshake", `${pattern} ${c.name}`);
      assert.equal(error.detail, "device key proof did not verify", `${pattern} ${c.name}`);
      await assertNotRegistered(t.srv, device);
    }
  }
});

// ---- 7. Noise key mismatches ----

abuseTest("an XK Hello made for a wrong server static key is refused", {}, async (t) => {
  const device = newDevice("wrongkey");
  const conn = await t.open();
  const wrong = x25519PublicFromPrivate(randomKey());
  conn.write(makeHello(t.srv, device, { serverStatic: wrong }).bytes);
  const error = await expectRefused(conn);
  assert.equal(error.error, "handshake");
  assert.equal(error.detail, "noise message 1 did not decrypt with any active server key");
  await assertNotRegistered(t.srv, device);
});

abuseTest("IK: a Noise static other than client_static is refused at message 1", {}, async (t) => {
  const device = newDevice("ik-static");
  const conn = await t.open();
  conn.write(makeHello(t.srv, device, { pattern: "IK", noiseStaticPrivate: randomKey() }).bytes);
  const error = await expectRefused(conn); // no Auth first: refused at message 1
  assert.equal(error.error, "handshake");
  assert.equal(error.detail, "noise static key does not match client_static");
  await assertNotRegistered(t.srv, device);
});

abuseTest("XK: a Noise static other than client_static is refused at message 3", {}, async (t) => {
  const device = newDevice("xk-static");
  const conn = await t.open();
  const hello = makeHello(t.srv, device, { noiseStaticPrivate: randomKey() });
  conn.write(hello.bytes);
  const auth = await conn.nextPlain("the server's Auth");
  assert.equal(auth.type, FrameType.Auth);
  conn.write(authReply(hello, auth));
  const error = await expectRefused(conn);
  assert.equal(error.error, "handshake");
  assert.equal(error.detail, "noise static key does not match client_static");
  await assertNotRegistered(t.srv, device);
});

// ---- 8. replayed Hello ----

abuseTest("a replayed Hello is refused (IK and XK)", {}, async (t) => {
  for (const pattern of ["IK", "XK"] as const) {
    const device = newDevice(`replay-${pattern}`);
    const hello = makeHello(t.srv, device, { pattern });
    // The original goes through.
    await rawHandshake(await t.open(), hello);
    // The same bytes on another connection do not.
    const replay = await t.open();
    replay.write(hello.bytes);
    const error = await expectRefused(replay);
    assert.equal(error.error, "handshake", pattern);
    assert.match(String(error.detail), /^replayed hello/, pattern);
  }
});

// ---- 9. tampered ciphertext ----

abuseTest("a tampered unit after the handshake closes that connection only", {}, async (t) => {
  const device = newDevice("tamper");
  const session = await t.session(device);
  const unit = session.sealUnit(
    encodeFrame({ type: FrameType.Join, channel: 9, sequence: 1, payload: utf8("{}") }),
  );
  unit[unit.length >> 1] ^= 0x40;
  session.conn.write(unit);
  // Nothing from a peer that failed authentication is answered: just the close.
  assert.equal(await session.next("the close"), null);
  // The device itself may come back.
  const again = await within(CommuCatClient.connect(connectOptions(t.srv, device)), "reconnect");
  await within(again.join(9, []), "the join after reconnecting");
  again.close();
  await again.finished;
});

// ---- 10. a client that never reads ----

const FLOOD_COUNT = 2000;
const FLOOD_SIZE = 4096;
const FLOOD_WINDOW = 100;

function floodMessage(index: number): Uint8Array {
  const bytes = new Uint8Array(FLOOD_SIZE).fill(0x2e);
  bytes.set(utf8(`m${String(index).padStart(6, "0")}|`));
  return bytes;
}

function floodIndex(payload: Uint8Array): number {
  assert.equal(payload.length, FLOOD_SIZE);
  assert.equal(payload[0], 0x6d); // 'm'
  return Number(fromUtf8(payload.subarray(1, 7)));
}

abuseTest(
  "a client that never reads is cut off as a slow consumer and loses nothing",
  { outboundQueueFrames: 64, outboundQueueBytes: 256 * 1024 },
  async (t) => {
    const victimDevice = newDevice("victim");
    // Handshake by hand, then the victim's response body is never read again.
    const victim = await t.session(victimDevice);
    const sender = await within(
      CommuCatClient.connect(connectOptions(t.srv, newDevice("flood"))),
      "the sender",
    );
    try {
      await befriend(t.srv, sender, partyOf(victim.ack));
      await within(sender.join(77, [victimDevice.deviceId]), "the flood channel");
      for (let start = 0; start < FLOOD_COUNT; start += FLOOD_WINDOW) {
        const sends = [];
        for (let i = start; i < start + FLOOD_WINDOW; i++) {
          sends.push(sender.send(77, floodMessage(i)));
        }
        const acks = await within(Promise.all(sends), `the Acks of ${start}..${start + 99}`);
        for (const ack of acks) assert.equal(typeof ack.ack, "number");
        if (start % 500 === 0) await t.pair.exchange(`during the flood at ${start}`);
      }

      // The victim's connection was closed: what it was sent is a short, ordered
      // prefix within the frame bound, then the end of the stream.
      const delivered: number[] = [];
      for (let frame = await victim.next(); frame; frame = await victim.next()) {
        assert.equal(frame.type, FrameType.Msg);
        delivered.push(floodIndex(frame.payload));
      }
      assert.ok(delivered.length <= 64, `${delivered.length} frames went past the bound`);
      assert.deepEqual(delivered, [...Array(delivered.length).keys()]);
      // It acknowledged nothing, so every message waits in its offline queue.
      const queued = await t.srv.server.store.countOfflineQueue(victimDevice.deviceId, new Date());
      assert.equal(queued, FLOOD_COUNT);

      // Reconnecting (and reading) it gets everything, in order.
      const again = await within(
        CommuCatClient.connect(connectOptions(t.srv, victimDevice)),
        "the victim's reconnect",
      );
      try {
        for (let i = 0; i < FLOOD_COUNT; i++) {
          const frame = await within(again.next(), `message ${i} after reconnecting`);
          assert.ok(frame, `the connection closed before message ${i}`);
          assert.equal(floodIndex(frame.payload), i);
        }
      } finally {
        again.close();
        await again.finished;
      }
    } finally {
      sender.close();
      await sender.finished;
    }
  },
);

// ---- 11. a handshake that never finishes ----

abuseTest("a handshake that never finishes times out", { handshakeTimeoutMs: 300 }, async (t) => {
  // Says nothing at all.
  const silent = await t.open();
  const first = await expectRefused(silent);
  assert.deepEqual(first, { error: "handshake", detail: "handshake timed out" });

  // Sends an XK Hello, then never its Auth.
  const device = newDevice("stall");
  const stalled = await t.open();
  stalled.write(makeHello(t.srv, device).bytes);
  const auth = await stalled.nextPlain("the server's Auth");
  assert.equal(auth.type, FrameType.Auth);
  const second = await expectRefused(stalled);
  assert.deepEqual(second, { error: "handshake", detail: "handshake timed out" });
  await assertNotRegistered(t.srv, device);
});

// ---- 12. protocol errors after the handshake ----

abuseTest(
  "after the handshake: sequence, bad Ack and Hello errors keep the connection",
  {},
  async (t) => {
    const device = newDevice("post");
    const s = await t.session(device);
    s.sendControl(FrameType.Join, 5, 10, { members: [] });
    assert.equal((await s.expect(FrameType.Ack, "the Join's Ack")).ack, 10);

    // Same sequence again, then a lower one: both dropped with `sequence`.
    for (const sequence of [10, 3]) {
      s.send({ type: FrameType.Msg, channel: 5, sequence, payload: utf8("dropped") });
      const error = await s.expect(FrameType.Error, `the sequence Error for ${sequence}`);
      assert.equal(error.error, "sequence");
      assert.equal(error.sequence, sequence);
    }
    s.send({ type: FrameType.Msg, channel: 5, sequence: 11, payload: utf8("kept") });
    assert.equal((await s.expect(FrameType.Ack, "the Msg's Ack")).ack, 11);

    // An Ack whose payload is not {"ack": <sequence>}.
    for (const [sequence, body] of [[12, { ack: "soon" }], [13, { ack: -1 }], [14, {}]] as const) {
      s.sendControl(FrameType.Ack, 0, sequence, body);
      const error = await s.expect(FrameType.Error, `the invalid_payload Error for ${sequence}`);
      assert.equal(error.error, "invalid_payload");
    }

    // A Hello (and an Auth) after the handshake.
    const hello = makeHello(t.srv, device).fields;
    s.sendControl(FrameType.Hello, 0, 15, hello);
    const unexpected = await s.expect(FrameType.Error, "the unexpected-Hello Error");
    assert.equal(unexpected.error, "unexpected");
    assert.equal(unexpected.sequence, 15);
    s.sendControl(FrameType.Auth, 0, 16, { handshake: toHex(new Uint8Array(48)) });
    assert.equal(
      (await s.expect(FrameType.Error, "the unexpected-Auth Error")).error,
      "unexpected",
    );

    // Still established: routing works on the same connection.
    s.send({ type: FrameType.Msg, channel: 5, sequence: 17, payload: utf8("still here") });
    assert.equal((await s.expect(FrameType.Ack, "the last Msg's Ack")).ack, 17);
  },
);
