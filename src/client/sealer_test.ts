import assert from "node:assert/strict";
import { EpochTransport } from "../crypto/mod.ts";
import { createHandshake, generateKeyPair } from "../crypto/noise/mod.ts";
import {
  DEFAULT_PADDING,
  encodedFrameLength,
  type Frame,
  FrameDecoder,
  FrameType,
  stripPadding,
  UnitDecoder,
} from "../proto/mod.ts";
import type { ClientChannel } from "./channel.ts";
import { UnitSealer } from "./sealer.ts";

/** The two ends of an established XK session. */
function session(): { client: EpochTransport; server: EpochTransport } {
  const serverKeys = generateKeyPair();
  const protocolName = "Noise_XK_25519_ChaChaPoly_BLAKE2s";
  const c = createHandshake({
    protocolName,
    initiator: true,
    staticPrivate: generateKeyPair().privateKey,
    remoteStatic: serverKeys.publicKey,
  });
  const s = createHandshake({
    protocolName,
    initiator: false,
    staticPrivate: serverKeys.privateKey,
  });
  s.readMessage(c.writeMessage());
  c.readMessage(s.writeMessage());
  s.readMessage(c.writeMessage());
  return { client: new EpochTransport(c.split()), server: new EpochTransport(s.split()) };
}

/** A channel that copies what it is given (as a WebSocket), or keeps it. */
function channel(
  copiesWrites: boolean,
): ClientChannel & { written: Uint8Array[]; buffers: ArrayBufferLike[] } {
  const written: Uint8Array[] = [];
  const buffers: ArrayBufferLike[] = [];
  return {
    mode: "websocket",
    copiesWrites,
    written,
    buffers,
    write(bytes) {
      buffers.push(bytes.buffer);
      written.push(copiesWrites ? bytes.slice() : bytes);
    },
    chunks: { [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => {}) }) },
    end() {},
    close() {},
  };
}

const msg = (size: number, fill: number): Frame => ({
  type: FrameType.Msg,
  channel: 7,
  sequence: 0,
  payload: new Uint8Array(size).fill(fill),
});

for (const copiesWrites of [true, false]) {
  Deno.test(`sealer: messages of every size read back (copiesWrites ${copiesWrites})`, () => {
    const { client, server } = session();
    const out = channel(copiesWrites);
    const sealer = new UnitSealer(client, out, DEFAULT_PADDING, undefined);
    // Large, then small in the same (reused) buffer: the padding must read as zeros again.
    const sizes = [3000, 10, 200, 5000, 1, 10];
    for (let i = 0; i < sizes.length; i++) {
      const frame = msg(sizes[i], i + 1);
      sealer.seal(frame, i + 1, encodedFrameLength(frame, i + 1), null, 0, 0, false, 0);
    }
    const units = new UnitDecoder();
    const frames = new FrameDecoder();
    const got: Array<[number, number, number]> = [];
    for (const bytes of out.written) {
      for (const unit of units.push(bytes)) {
        // stripPadding throws on a non-zero byte after the end marker.
        for (const frame of frames.push(stripPadding(server.decrypt(unit)))) {
          got.push([frame.sequence, frame.payload.length, frame.payload[0] ?? 0]);
        }
      }
    }
    assert.deepEqual(got, sizes.map((size, i) => [i + 1, size, size > 0 ? i + 1 : 0]));
    // A copying channel gets the one reused buffer for every message that fits it (all but
    // the 5000-byte one); otherwise each message has a buffer of its own.
    assert.equal(new Set(out.buffers).size, copiesWrites ? 2 : sizes.length);
  });
}
