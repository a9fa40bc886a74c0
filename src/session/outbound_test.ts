import assert from "node:assert/strict";
import { createHandshake, type NoiseTransport } from "../crypto/mod.ts";
import { decodeFrame, decodeVarint, type Frame, FrameType } from "../proto/mod.ts";
import type { Link } from "../transport/mod.ts";
import { Outbound } from "./outbound.ts";

/** Seals without encrypting: the plaintext stays readable, a zero tag behind it. */
const clearTransport = {
  encryptInPlace(buf: Uint8Array, at: number, length: number): number {
    buf.fill(0, at + length, at + length + 16);
    return length + 16;
  },
} as unknown as NoiseTransport;

/** A WebSocket-like link (copies on send) that records each write's copy. */
function recordingLink(): Link & { writes: Uint8Array[] } {
  const writes: Uint8Array[] = [];
  return {
    mode: "websocket",
    copiesOnSend: true,
    backlogBytes: 0,
    closed: false,
    writes,
    send(unit) {
      writes.push(unit.slice());
    },
    close() {},
  };
}

/** The payload lengths of every frame in one write, per sealed unit. */
function unitsOf(write: Uint8Array): number[][] {
  const units: number[][] = [];
  let at = 0;
  while (at < write.length) {
    const prefix = decodeVarint(write, at)!;
    const start = at + prefix.length;
    const end = start + prefix.value - 16; // the tag
    const frames: number[] = [];
    for (let offset = start; offset < end;) {
      const decoded = decodeFrame(write.subarray(offset, end))!;
      frames.push(decoded.frame.payload.length);
      offset += decoded.consumed;
    }
    units.push(frames);
    at = start + prefix.value;
  }
  return units;
}

const msg = (size: number): Frame => ({
  type: FrameType.Msg,
  channel: 1,
  sequence: 0,
  payload: new Uint8Array(size),
});

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

function outbound() {
  const link = recordingLink();
  const out = new Outbound(link, 1 << 20, {});
  out.encryptWith(clearTransport);
  return { out, link };
}

Deno.test("outbound: each session's turn is one write of its own frames; the next turn starts a new batch", async () => {
  const a = outbound();
  const b = outbound();
  a.out.sendEncrypted(msg(1));
  b.out.sendEncrypted(msg(2));
  a.out.sendEncrypted(msg(3));
  await turn();
  assert.deepEqual(a.link.writes.map(unitsOf), [[[1, 3]]]);
  assert.deepEqual(b.link.writes.map(unitsOf), [[[2]]]);
  // After a write the batch is empty again and shared by nobody: new frames, new write.
  b.out.sendEncrypted(msg(4));
  await turn();
  assert.deepEqual(a.link.writes.length, 1);
  assert.deepEqual(b.link.writes.map(unitsOf), [[[2]], [[4]]]);
  a.out.sendEncrypted(msg(5));
  a.out.sendEncrypted(msg(6));
  await turn();
  assert.deepEqual(a.link.writes.map(unitsOf), [[[1, 3]], [[5, 6]]]);
});

Deno.test("outbound: a sealed message and the open one go out in the turn's one write, in order; an idle session writes nothing", async () => {
  const { out, link } = outbound();
  const idle = outbound();
  out.sendEncrypted(msg(7));
  out.seal(); // a key switch: later frames in a new Noise message
  out.sendEncrypted(msg(8));
  out.sendEncrypted(msg(9));
  await turn();
  assert.deepEqual(link.writes.map(unitsOf), [[[7], [8, 9]]]);
  // Sealing or flushing with nothing batched writes nothing.
  out.seal();
  out.flush();
  idle.out.flush();
  await turn();
  assert.equal(link.writes.length, 1);
  assert.equal(idle.link.writes.length, 0);
  // An explicit flush writes at once; the queued end-of-turn flush then has nothing left.
  out.sendEncrypted(msg(10));
  out.flush();
  assert.deepEqual(link.writes.map(unitsOf).at(-1), [[10]]);
  await turn();
  assert.equal(link.writes.length, 2);
});

Deno.test("outbound: after relink (a session's multipath paths open) writes go to the new link only", async () => {
  const { out, link } = outbound();
  const paths = recordingLink();
  out.sendEncrypted(msg(11));
  out.flush(); // the Ack that opens the paths goes out alone on the connection's link
  out.relink(paths);
  out.sendEncrypted(msg(12));
  out.sendEncrypted(msg(13));
  await turn();
  assert.deepEqual(link.writes.map(unitsOf), [[[11]]]);
  assert.deepEqual(paths.writes.map(unitsOf), [[[12, 13]]]);
});

Deno.test("outbound: a write reports its live deliveries once, at the oldest's read time", async () => {
  const link = recordingLink();
  const reports: { seconds: number; deliveries: number }[] = [];
  const out = new Outbound(link, 1 << 20, {
    routeDelay: (seconds, deliveries) => reports.push({ seconds, deliveries }),
  });
  out.encryptWith(clearTransport);
  const readAt = performance.now() - 50;
  out.sendEncrypted(msg(10), readAt + 20);
  out.sendEncrypted(msg(10), readAt);
  out.sendEncrypted(msg(10)); // a reply or a queued row: no read time
  out.sendEncrypted(msg(10), Number.NaN); // read outside a chunk's processing
  await turn();
  assert.equal(link.writes.length, 1);
  assert.equal(reports.length, 1);
  assert.equal(reports[0].deliveries, 2);
  assert.ok(reports[0].seconds >= 0.05, `${reports[0].seconds}`);
  // The next turn starts afresh; a write without deliveries reports nothing.
  out.sendEncrypted(msg(10));
  await turn();
  assert.equal(link.writes.length, 2);
  assert.equal(reports.length, 1);
});

/** Both ends of an NN session: what the server seals, the client opens. */
function noisePair(): { server: NoiseTransport; client: NoiseTransport } {
  const protocolName = "Noise_NN_25519_ChaChaPoly_BLAKE2s";
  const i = createHandshake({ protocolName, initiator: true });
  const r = createHandshake({ protocolName, initiator: false });
  r.readMessage(i.writeMessage());
  i.readMessage(r.writeMessage());
  return { server: r.split(), client: i.split() };
}

/** The payload lengths of every frame in one write, each unit opened by `client`. */
function openedUnitsOf(write: Uint8Array, client: NoiseTransport): number[][] {
  const units: number[][] = [];
  for (let at = 0; at < write.length;) {
    const prefix = decodeVarint(write, at)!;
    const start = at + prefix.length;
    const plaintext = client.decrypt(write.subarray(start, start + prefix.value));
    const frames: number[] = [];
    for (let offset = 0; offset < plaintext.length;) {
      const decoded = decodeFrame(plaintext.subarray(offset))!;
      frames.push(decoded.frame.payload.length);
      offset += decoded.consumed;
    }
    units.push(frames);
    at = start + prefix.value;
  }
  return units;
}

Deno.test("outbound: writes sealed by a real transport open on the peer's, whichever buffer they were built in", async () => {
  const { server, client } = noisePair();
  const link = recordingLink();
  const out = new Outbound(link, 1 << 20, {});
  out.encryptWith(server);
  // The open message alone (built in the AEAD's memory), at sizes whose prefix is 1 and 2 bytes.
  out.sendEncrypted(msg(100));
  await turn();
  out.sendEncrypted(msg(3000));
  out.sendEncrypted(msg(1));
  await turn();
  // A unit sealed earlier ahead of the open message (built in the shared scratch).
  out.sendEncrypted(msg(5));
  out.seal();
  out.sendEncrypted(msg(6));
  await turn();
  // Above the AEAD's small-message range (sealed by node:crypto in the same buffer).
  out.sendEncrypted(msg(6000));
  await turn();
  assert.deepEqual(link.writes.map((write) => openedUnitsOf(write, client)), [
    [[100]],
    [[3000, 1]],
    [[5], [6]],
    [[6000]],
  ]);
});
