/**
 * Unit tests of one connection with a fake Link, a fake handshake driver and
 * a fake Router: both phases, the close path and the bounds of issue 19 §2
 * (pre-handshake buffering, replies to a non-reading client, partial frames).
 */
import assert from "node:assert/strict";
import { createHandshake, generateKeyPair, type NoiseTransport } from "../crypto/mod.ts";
import {
  controlFrame,
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  encodeUnit,
  encodeVarint,
  type Frame,
  FrameDecoder,
  FrameType,
  UnitDecoder,
} from "../proto/mod.ts";
import { AckWhenDurable, MemoryPresence, PeerRegistry, type Router } from "../router/mod.ts";
import { KeptCopies } from "../router/kept_copies.ts";
import { MultipathHub } from "../multipath/mod.ts";
import { FakeClock } from "../router/testing.ts";
import type { Store } from "../storage/mod.ts";
import type { Link, UnitHeader } from "../transport/mod.ts";
import { silentLogger } from "../log/mod.ts";
import {
  type ConnectionDeps,
  PRE_HANDSHAKE_INBOUND_BYTES,
  ServerConnection,
} from "./connection.ts";
import { HandshakeError } from "./errors.ts";
import { ERROR_BURST, MAX_ESTABLISHED_FRAME } from "./established_phase.ts";
import type { Established, HandshakeDeps } from "./handshake.ts";
import type { HandshakeDriver } from "./handshake_phase.ts";
import { SessionRuntime } from "./runtime.ts";

const encoder = new TextEncoder();

/** A link that keeps what the server sent; its backlog is whatever the test says. */
class FakeLink implements Link {
  readonly mode = "binary" as const;
  readonly sent: { unit: Uint8Array; header: UnitHeader | null }[] = [];
  backlogBytes = 0;
  closed = false;
  send(unit: Uint8Array, header: UnitHeader | null): void {
    if (!this.closed) this.sent.push({ unit, header });
  }
  close(): void {
    this.closed = true;
  }
}

/** A server/client Noise transport pair from a real XK exchange. */
function transportPair(): { server: NoiseTransport; client: NoiseTransport } {
  const serverKeys = generateKeyPair();
  const protocolName = "Noise_XK_25519_ChaChaPoly_BLAKE2s";
  const prologue = encoder.encode("test");
  const i = createHandshake({
    protocolName,
    initiator: true,
    prologue,
    staticPrivate: generateKeyPair().privateKey,
    remoteStatic: serverKeys.publicKey,
  });
  const r = createHandshake({
    protocolName,
    initiator: false,
    prologue,
    staticPrivate: serverKeys.privateKey,
  });
  r.readMessage(i.writeMessage());
  i.readMessage(r.writeMessage());
  r.readMessage(i.writeMessage());
  return { server: r.split(), client: i.split() };
}

/** A handshake that accepts any Hello and establishes device `d1` at once (IK-like). */
class FakeHandshake implements HandshakeDriver {
  awaitingAuth = false;
  hellos = 0;
  /** Resolves the Hello when the test says so (null = at once). */
  gate: Promise<void> | null = null;
  refuse: HandshakeError | null = null;
  constructor(readonly transport: NoiseTransport) {}
  async hello(_frame: DecodedFrame): Promise<Frame> {
    this.hellos++;
    if (this.gate) await this.gate;
    if (this.refuse) throw this.refuse;
    return controlFrame(FrameType.Auth, 0, 0, { handshake: "00" });
  }
  auth(): void {
    this.awaitingAuth = false;
  }
  commit(): Promise<Established> {
    return Promise.resolve({
      deviceId: "d1",
      userId: "u1",
      user: {} as Established["user"],
      sessionId: "s1",
      protocolVersion: 1,
      transport: this.transport,
      ack: controlFrame(FrameType.Ack, 0, 0, { handshake: "ok" }),
      action: null,
    });
  }
}

/** A router that records what it is asked and answers a plain Ack (or what the test sets). */
class FakeRouter {
  routed: DecodedFrame[] = [];
  reply: (frame: DecodedFrame) => Frame | null = (frame) =>
    controlFrame(FrameType.Ack, frame.channel, 0, { ack: frame.sequence });
  route(_peer: unknown, frame: DecodedFrame): Frame | null {
    this.routed.push(frame);
    return this.reply(frame);
  }
  /** The offline queue delivery drains on connect: always empty here. */
  offlineQueue = {
    loads: 0,
    settled: [] as string[],
    load: () => {
      this.offlineQueue.loads++;
      return Promise.resolve([]);
    },
    settle: (_device: string, ids: string[]) => {
      this.offlineQueue.settled.push(...ids);
      return Promise.resolve();
    },
    requeue: () => Promise.resolve(),
  };
}

interface Harness {
  connection: ServerConnection;
  link: FakeLink;
  router: FakeRouter;
  handshake: FakeHandshake;
  registry: PeerRegistry;
  client: NoiseTransport;
  closes: string[];
  runtime: SessionRuntime;
  decrypted: { item: number; frame: DecodedFrame }[];
  decryptedItems: number;
}

function harness(overrides: Partial<ConnectionDeps> = {}, link = new FakeLink()): Harness {
  const pair = transportPair();
  const router = new FakeRouter();
  const handshake = new FakeHandshake(pair.server);
  const registry = new PeerRegistry();
  const closes: string[] = [];
  const runtime = new SessionRuntime(
    { presenceTtlSeconds: 30, sessionTtlSeconds: 60 },
    overrides.handshakeTimeoutMs,
  );
  const store = {
    loadInbox: () => Promise.resolve([]),
    deleteRelay: () => Promise.resolve(0),
    putSession: () => Promise.resolve(),
  } as unknown as Store;
  const deps: ConnectionDeps = {
    handshake: {} as HandshakeDeps,
    newHandshake: () => handshake,
    router: router as unknown as Router,
    registry,
    presence: new MemoryPresence(),
    store,
    runtime,
    instanceId: "i1",
    handshakeTimeoutMs: 10_000,
    outboundQueueFrames: 1024,
    outboundQueueBytes: 1024 * 1024,
    inboundQueueBytes: 32 * 1024 * 1024,
    partialFrameTimeoutMs: 10_000,
    presenceTtlSeconds: 30,
    sessionTtlSeconds: 60,
    log: silentLogger,
    observer: { closed: (info) => closes.push(info.reason) },
    ...overrides,
  };
  const connection = new ServerConnection(link, deps, "c1");
  return {
    connection,
    link,
    router,
    handshake,
    registry,
    client: pair.client,
    closes,
    runtime,
    decrypted: [],
    decryptedItems: 0,
  };
}

const hello = () =>
  encodeFrame(controlFrame(FrameType.Hello, 0, 1, { pattern: "IK", capabilities: [] }));

/** Drives the handshake; returns once the connection is established. */
async function establish(h: Harness): Promise<void> {
  await h.connection.receive(hello());
  assert.ok(h.connection.established, `not established: ${h.closes.join(", ")}`);
}

/**
 * The server's encrypted frames from the `from`-th item sent (item 0 is the
 * plaintext Auth). An item (one link write) may hold several units and a unit
 * several frames (PROTOCOL.md §2 "Batching"). Noise needs every message in
 * order, so all are decrypted once and kept, each with the item it came in.
 */
function decryptSent(h: Harness, from = 1): DecodedFrame[] {
  while (h.decryptedItems < h.link.sent.length - 1) {
    const item = ++h.decryptedItems;
    for (const body of new UnitDecoder().push(h.link.sent[item].unit)) {
      for (const frame of new FrameDecoder().push(h.client.decrypt(body))) {
        h.decrypted.push({ item, frame });
      }
    }
  }
  return h.decrypted.filter((d) => d.item >= from).map((d) => d.frame);
}

/** One Noise unit carrying `frames`, encrypted by the client. */
function unitOf(h: Harness, ...frames: Frame[]): Uint8Array {
  const plain = frames.map(encodeFrame);
  const joined = new Uint8Array(plain.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of plain) joined.set(f, (at += f.length) - f.length);
  return encodeUnit(h.client.encrypt(joined));
}

const msg = (sequence: number, payload = "hi") => ({
  type: FrameType.Msg,
  channel: 7,
  sequence,
  payload: encoder.encode(payload),
});

Deno.test("connection: the handshake phase answers Auth in the clear, then the Ack encrypted", async () => {
  const h = harness();
  await establish(h);
  assert.equal(h.link.sent[0].header?.type, "auth");
  const [ack] = decryptSent(h);
  assert.equal(ack.type, FrameType.Ack);
  assert.equal((ack.control as { handshake: string }).handshake, "ok");
  assert.equal(h.registry.get("d1"), h.connection);
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("connection: a three-message handshake waits for the client's Auth", async () => {
  const h = harness();
  h.handshake.awaitingAuth = true; // XK
  await h.connection.receive(hello());
  assert.ok(!h.connection.established);
  // Auth and the first unit in one chunk: the unit is handled right after the handshake.
  const auth = encodeFrame(controlFrame(FrameType.Auth, 0, 2, { handshake: "00" }));
  const first = unitOf(h, msg(3));
  const chunk = new Uint8Array(auth.length + first.length);
  chunk.set(auth);
  chunk.set(first, auth.length);
  await h.connection.receive(chunk);
  assert.ok(h.connection.established);
  assert.deepEqual(h.router.routed.map((f) => f.sequence), [3]);
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("connection: anything but Auth after an XK Hello is refused", async () => {
  const h = harness();
  h.handshake.awaitingAuth = true;
  await h.connection.receive(hello());
  await h.connection.receive(encodeFrame(msg(2)));
  const error = decodeFrame(h.link.sent.at(-1)!.unit)!.frame;
  assert.match((error.control as { detail: string }).detail, /expected auth, got msg/);
  assert.deepEqual(h.closes, ["handshake_failed: unexpected_frame"]);
  await h.connection.done;
});

Deno.test("connection: established frames reach the router; its reply goes back encrypted", async () => {
  const h = harness();
  await establish(h);
  await h.connection.receive(unitOf(h, msg(2), msg(3)));
  assert.deepEqual(h.router.routed.map((f) => f.sequence), [2, 3]);
  const replies = decryptSent(h, 2);
  assert.deepEqual(replies.map((f) => (f.control as { ack: number }).ack), [2, 3]);
  h.connection.close("shutdown");
  await h.connection.done;
  assert.equal(h.registry.get("d1"), undefined);
  h.runtime.stop();
});

Deno.test("connection: a refused Hello gets a plaintext Error and the link closes", async () => {
  const h = harness();
  h.handshake.refuse = new HandshakeError("zkp", "device key proof did not verify");
  await h.connection.receive(hello());
  const error = decodeFrame(h.link.sent.at(-1)!.unit)!.frame;
  assert.equal(error.type, FrameType.Error);
  assert.equal((error.control as { error: string }).error, "handshake");
  assert.ok(h.link.closed);
  assert.deepEqual(h.closes, ["handshake_failed: zkp"]);
  await h.connection.done;
});

Deno.test("connection: onDone tells every registered callback once, in order, without a promise", async () => {
  const h = harness();
  const told: string[] = [];
  h.connection.onDone((c) => told.push(`open set ${c === h.connection}`));
  h.connection.onDone(() => told.push("direct slot"));
  h.connection.onDone(() => told.push("third"));
  h.connection.onDone(() => told.push("fourth"));
  h.handshake.refuse = new HandshakeError("zkp", "device key proof did not verify");
  await h.connection.receive(hello());
  await h.connection.done;
  assert.deepEqual(told, ["open set true", "direct slot", "third", "fourth"]);
  h.connection.onDone(() => told.push("late")); // already done: told at once
  assert.deepEqual(told.at(-1), "late");
  assert.equal(told.length, 5);
});

Deno.test("connection: the handshake's duration runs from the connection's start, established or failed", async () => {
  const seen: { ok: boolean; durationMs: number }[] = [];
  const observer = { handshake: (e: { ok: boolean; durationMs: number }) => void seen.push(e) };
  const before = Date.now();
  const ok = harness({ observer });
  await establish(ok);
  const failed = harness({ observer });
  failed.handshake.refuse = new HandshakeError("zkp", "device key proof did not verify");
  await failed.connection.receive(hello());
  await failed.connection.done;
  const elapsed = Date.now() - before;
  assert.deepEqual(seen.map((e) => e.ok), [true, false]);
  for (const e of seen) assert.ok(e.durationMs >= 0 && e.durationMs <= elapsed, `${e.durationMs}`);
});

Deno.test("connection: a replaced session tells the client before it closes", async () => {
  const h = harness();
  await establish(h);
  h.connection.close("replaced");
  const [last] = decryptSent(h, h.link.sent.length - 1);
  assert.equal((last.control as { error: string }).error, "replaced");
  assert.ok(h.link.closed);
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("connection: cumulative Acks go out after the turn, through the runtime the server passes in", async () => {
  const h = harness();
  h.router.reply = () => null; // a broadcast whose Ack the session owes
  const ackUpto = controlFrame(FrameType.Hello, 0, 1, { capabilities: ["ack-upto"] });
  await h.connection.receive(encodeFrame(ackUpto));
  await h.connection.receive(unitOf(h, msg(2), msg(3), msg(4)));
  assert.equal(h.link.sent.length, 2, "nothing yet: the Ack waits for the end of the turn");
  await new Promise((resolve) => setTimeout(resolve, 0));
  const [ack] = decryptSent(h, 2);
  assert.deepEqual(ack.control, { ack: 4, upto: true });
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

// ---- issue 19 §2: pre-handshake buffering ----

Deno.test("pre-handshake: a length prefix over the handshake limit is refused before its bytes", async () => {
  const h = harness();
  // Announces 60 MiB and sends only the prefix: the server must not wait for the rest.
  await h.connection.receive(encodeVarint(60 * 1024 * 1024));
  assert.ok(h.link.closed);
  assert.equal(h.handshake.hellos, 0);
  assert.match(h.closes[0], /^handshake_failed: decode/);
  await h.connection.done;
});

Deno.test("pre-handshake: upstream queued behind a pending Hello is bounded", async () => {
  const h = harness();
  let release!: () => void;
  h.handshake.gate = new Promise((resolve) => (release = resolve));
  const first = h.connection.receive(hello());
  // The Hello is waiting for the store; the client keeps sending.
  const chunk = new Uint8Array(16 * 1024);
  let sent = 0;
  while (!h.link.closed && sent <= 4 * PRE_HANDSHAKE_INBOUND_BYTES) {
    void h.connection.receive(chunk);
    sent += chunk.length;
  }
  assert.ok(h.link.closed, "the connection must close once the pre-handshake bound is passed");
  assert.ok(sent <= PRE_HANDSHAKE_INBOUND_BYTES + chunk.length, `took ${sent} bytes`);
  assert.deepEqual(h.closes, ["inbound_backlog"]);
  release();
  await first;
  await h.connection.done;
});

Deno.test("pre-handshake: the handshake timeout closes a link holding a half-received Hello", async () => {
  const h = harness({ handshakeTimeoutMs: 20 });
  const bytes = hello();
  await h.connection.receive(bytes.subarray(0, bytes.length - 1));
  await h.connection.done;
  assert.ok(h.link.closed);
  assert.deepEqual(h.closes, ["handshake_failed: timeout"]);
});

// ---- issue 19 §2: replies to a client that does not read ----

Deno.test("replies: a unit packed with bad frames draws a bounded number of Errors, then a close", async () => {
  const h = harness();
  await establish(h);
  await h.connection.receive(unitOf(h, msg(5)));
  const before = h.link.sent.length;
  // 2,000 frames whose sequence does not increase: each would draw an Error.
  const bad = Array.from({ length: 2000 }, () => msg(5, ""));
  await h.connection.receive(unitOf(h, ...bad));
  assert.ok(h.link.closed);
  assert.deepEqual(h.closes, ["too_many_errors"]);
  const errors = decryptSent(h, before);
  assert.ok(errors.length <= ERROR_BURST + 1, `${errors.length} frames sent`);
  assert.equal((errors.at(-1)!.control as { error: string }).error, "too_many_errors");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("replies: Acks count against the outbound bound like deliveries", async () => {
  const h = harness();
  await establish(h);
  const before = h.link.sent.length;
  h.link.backlogBytes = 2 * 1024 * 1024; // the client stopped reading
  await h.connection.receive(unitOf(h, msg(2)));
  assert.equal(h.link.sent.length, before, "no Ack is buffered for a client that does not read");
  assert.ok(h.link.closed);
  assert.deepEqual(h.closes, ["slow: outbound bound exceeded by replies"]);
  await h.connection.done;
  h.runtime.stop();
});

// ---- issue 19 §2: post-handshake partial frames ----

Deno.test("partial frames: a frame declaring more than the established limit is refused at once", async () => {
  const h = harness();
  await establish(h);
  // The first unit carries only the start of a 16 MiB frame.
  const start = new Uint8Array([...encodeVarint(16 * 1024 * 1024), FrameType.Msg, 7, 2]);
  await h.connection.receive(encodeUnit(h.client.encrypt(start)));
  assert.ok(h.link.closed);
  assert.deepEqual(h.closes, ["protocol_error: frame decode error"]);
  const [error] = decryptSent(h, h.link.sent.length - 1);
  assert.equal((error.control as { error: string }).error, "decode");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("partial frames: the largest deliverable frame still passes", async () => {
  const h = harness();
  await establish(h);
  // Split over two units, as a client must for a frame this size.
  const frame = encodeFrame(msg(2, "x".repeat(MAX_ESTABLISHED_FRAME - 64)));
  const cut = 40_000;
  await h.connection.receive(encodeUnit(h.client.encrypt(frame.subarray(0, cut))));
  await h.connection.receive(encodeUnit(h.client.encrypt(frame.subarray(cut))));
  assert.ok(!h.link.closed, h.closes.join());
  assert.equal(h.router.routed.length, 1);
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("partial frames: a frame never completed is timed out", async () => {
  const h = harness({ partialFrameTimeoutMs: 20 });
  await establish(h);
  const frame = encodeFrame(msg(2, "x".repeat(1000)));
  await h.connection.receive(encodeUnit(h.client.encrypt(frame.subarray(0, 100))));
  assert.ok(!h.link.closed);
  await h.connection.done;
  assert.deepEqual(h.closes, ["frame_timeout: no complete frame within 20 ms"]);
  const [error] = decryptSent(h, h.link.sent.length - 1);
  assert.equal((error.control as { error: string }).error, "timeout");
  h.runtime.stop();
});

Deno.test("replies: Errors the server is at fault for (unavailable) do not use up the client's budget", async () => {
  const h = harness();
  await establish(h);
  h.router.reply = () => {
    throw new Error("store down");
  };
  const frames = Array.from({ length: 3 * ERROR_BURST }, (_, i) => msg(2 + i));
  await h.connection.receive(unitOf(h, ...frames));
  assert.ok(!h.link.closed, h.closes.join());
  const codes = decryptSent(h).slice(1).map((f) => (f.control as { error: string }).error);
  assert.equal(codes.length, 3 * ERROR_BURST);
  assert.ok(codes.every((code) => code === "unavailable"));
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("replies: a cumulative Ack to a client that does not read counts against the bound too", async () => {
  const h = harness();
  h.router.reply = () => null; // every Msg owes a cumulative Ack
  await h.connection.receive(encodeFrame(
    controlFrame(FrameType.Hello, 0, 1, { capabilities: ["ack-upto"] }),
  ));
  const before = h.link.sent.length;
  h.link.backlogBytes = 2 * 1024 * 1024;
  await h.connection.receive(unitOf(h, msg(2)));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(h.link.closed);
  assert.deepEqual(h.closes, ["slow: outbound bound exceeded by replies"]);
  // close() still settles what was owed (one Ack, not one per frame).
  assert.ok(h.link.sent.length <= before + 1);
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("batching: the frames of one turn go out in one write, several to a Noise message", async () => {
  const h = harness();
  await establish(h);
  const before = h.link.sent.length;
  for (let i = 0; i < 3; i++) assert.ok(h.connection.deliver(msg(0, `d${i}`)));
  assert.equal(h.link.sent.length, before, "nothing is written before the turn ends");
  await Promise.resolve();
  assert.equal(h.link.sent.length, before + 1, "one write for the turn");
  const units = new UnitDecoder().push(h.link.sent[before].unit);
  assert.equal(units.length, 1, "one Noise message");
  const frames = decryptSent(h, before);
  assert.deepEqual(frames.map((f) => new TextDecoder().decode(f.payload)), ["d0", "d1", "d2"]);
  // Sequences stay one per frame.
  assert.deepEqual(frames.map((f) => f.sequence - frames[0].sequence), [0, 1, 2]);
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("batching: a Noise message holds at most 65,519 bytes of plaintext; units share the write", async () => {
  const h = harness();
  await establish(h);
  const before = h.link.sent.length;
  const big = "x".repeat(30_000);
  for (let i = 0; i < 3; i++) assert.ok(h.connection.deliver(msg(0, big)));
  await Promise.resolve();
  assert.equal(h.link.sent.length, before + 1, "one write for the turn");
  const units = new UnitDecoder().push(h.link.sent[before].unit);
  assert.equal(units.length, 2, "two frames fit one Noise message, the third starts another");
  assert.ok(units.every((u) => u.length - 16 <= 65_519));
  assert.equal(decryptSent(h, before).length, 3);
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("batching: the owed cumulative Ack rides with a delivery of the same turn", async () => {
  const h = harness();
  h.router.reply = () => null; // every Msg owes a cumulative Ack
  await h.connection.receive(encodeFrame(
    controlFrame(FrameType.Hello, 0, 1, { capabilities: ["ack-upto"] }),
  ));
  const before = h.link.sent.length;
  await h.connection.receive(unitOf(h, msg(2), msg(3)));
  assert.ok(h.connection.deliver(msg(0, "to you")));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(h.link.sent.length, before + 1, "the Ack and the delivery share one write");
  const frames = decryptSent(h, before);
  assert.deepEqual(frames.map((f) => f.type), [FrameType.Ack, FrameType.Msg]);
  assert.deepEqual(frames[0].control, { ack: 3, upto: true });
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("batching: an Ack released outside the sender's turn goes out without waiting for the sender's next frame", async () => {
  const h = harness();
  // The durable-copy window: the sender's Ack waits for the recipient's delivery ack.
  const kept = new KeptCopies({
    delayMs: 200,
    clock: new FakeClock(),
    write: () => Promise.resolve(),
  });
  kept.keep({
    envelopeId: "e1",
    deviceId: "bob",
    payload: new Uint8Array(4),
    keptAt: 0,
    connectionId: "bob-c1",
  });
  const durable = kept.durable()!;
  h.router.reply = () => new AckWhenDurable(null, durable) as unknown as Frame;
  await h.connection.receive(encodeFrame(
    controlFrame(FrameType.Hello, 0, 1, { capabilities: ["ack-upto"] }),
  ));
  const before = h.link.sent.length;
  await h.connection.receive(unitOf(h, msg(2)));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(h.link.sent.length, before, "the Ack waits for the copy to be settled");
  // The recipient's delivery ack, in the recipient's turn: this connection receives nothing more.
  assert.ok(kept.acknowledge("e1"));
  await new Promise((resolve) => setTimeout(resolve, 0));
  await Promise.resolve();
  assert.equal(h.link.sent.length, before + 1, "written within the next timer turn");
  const frames = decryptSent(h, before);
  assert.deepEqual(frames.map((f) => f.control), [{ ack: 2, upto: true }]);
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

Deno.test("takeQueued: a row carried on the bus is delivered as it is and settled by the device's ack", async () => {
  const h = harness();
  await establish(h);
  await new Promise((resolve) => setTimeout(resolve, 0)); // the connect drain is done
  const loads = h.router.offlineQueue.loads;
  const before = h.link.sent.length;
  assert.equal(h.connection.takeQueued("env-1", encodeFrame(msg(9, "from instance A"))), true);
  await Promise.resolve();
  const [frame] = decryptSent(h, before);
  assert.equal(new TextDecoder().decode(frame.payload), "from instance A");
  assert.equal(h.router.offlineQueue.loads, loads, "the queue was not read back");
  // The device acknowledges it: the row goes.
  await h.connection.receive(unitOf(h, controlFrame(FrameType.Ack, 0, 2, { ack: frame.sequence })));
  assert.deepEqual(h.router.offlineQueue.settled, ["env-1"]);
  // An undecodable row falls back to reading the queue.
  assert.equal(h.connection.takeQueued("env-2", new Uint8Array([0xff])), false);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(h.router.offlineQueue.loads, loads + 1);
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
});

/** A link that copies on send, as a WebSocket does; it notes which buffer each write came in. */
class CopyingLink extends FakeLink {
  readonly copiesOnSend = true;
  readonly buffers: ArrayBufferLike[] = [];
  override send(unit: Uint8Array, header: UnitHeader | null): void {
    this.buffers.push(unit.buffer);
    super.send(unit.slice(), header);
  }
}

Deno.test("carrier: a multipath-capable session's writes reuse the outbound scratch on a copying link", async () => {
  const link = new CopyingLink();
  const hub = new MultipathHub({ maxPaths: 2, maxAttaches: 4, lingerMs: 1_000, policy: {} });
  const h = harness({ multipath: hub }, link);
  await establish(h);
  const before = link.buffers.length;
  for (let turn = 0; turn < 2; turn++) {
    assert.ok(h.connection.deliver(msg(0, `d${turn}`)));
    await Promise.resolve();
  }
  assert.equal(link.buffers.length, before + 2, "one write per turn");
  assert.equal(link.buffers[before], link.buffers[before + 1], "both writes came from one buffer");
  const frames = decryptSent(h, before);
  assert.deepEqual(frames.map((f) => new TextDecoder().decode(f.payload)), ["d0", "d1"]);
  h.connection.close("shutdown");
  await h.connection.done;
  h.runtime.stop();
  hub.close();
});
