import assert from "node:assert/strict";
import {
  CodecError,
  controlFrame,
  encodeFrame,
  encodeUnit,
  type FrameDecoder,
  FrameType,
  type UnitDecoder,
} from "../proto/mod.ts";
import { frameDecoder, keptFrameDecoder, keptUnitDecoder, unitDecoder } from "./shared_decoders.ts";

/** A session's own decoders, pushed to as EstablishedPhase does. */
class Session {
  units: UnitDecoder | null = null;
  frames: FrameDecoder | null = null;

  pushUnits(chunk: Uint8Array): Uint8Array[] {
    const decoder = unitDecoder(this.units);
    let ok = false;
    try {
      const out = decoder.push(chunk);
      ok = true;
      return out;
    } finally {
      this.units = keptUnitDecoder(decoder, ok);
    }
  }

  pushFrames(plaintext: Uint8Array) {
    const decoder = frameDecoder(this.frames);
    let ok = false;
    try {
      const out = decoder.push(plaintext);
      ok = true;
      return out;
    } finally {
      this.frames = keptFrameDecoder(decoder, ok);
    }
  }
}

const unit = (n: number, fill: number) => encodeUnit(new Uint8Array(n).fill(fill));
const frame = (sequence: number) =>
  encodeFrame(controlFrame(FrameType.Ack, 0, sequence, { ack: sequence }));

Deno.test("shared decoders: a session holds a decoder only while part of a unit is buffered; others decode meanwhile", () => {
  const a = new Session();
  const b = new Session();
  const whole = unit(300, 1);
  assert.deepEqual(a.pushUnits(whole.subarray(0, 100)), []);
  assert.notEqual(a.units, null, "a half unit is kept by its session");
  assert.notEqual(unitDecoder(null), a.units, "the shared decoder is another one now");
  // b's complete units go through the shared decoder and leave nothing behind.
  const other = b.pushUnits(unit(50, 2));
  assert.deepEqual(other.map((u) => [u.length, u[0]]), [[50, 2]]);
  assert.equal(b.units, null);
  const rest = a.pushUnits(whole.subarray(100));
  assert.deepEqual(rest.map((u) => [u.length, u[0]]), [[300, 1]]);
  assert.equal(a.units, null, "given up once empty");
});

Deno.test("shared decoders: frames split across pushes, interleaved with another session's", () => {
  const a = new Session();
  const b = new Session();
  const f1 = frame(1);
  assert.deepEqual(a.pushFrames(f1.subarray(0, 3)), []);
  assert.notEqual(a.frames, null);
  assert.deepEqual(b.pushFrames(frame(7)).map((f) => f.sequence), [7]);
  assert.equal(b.frames, null);
  assert.deepEqual(a.pushFrames(f1.subarray(3)).map((f) => f.sequence), [1]);
  assert.equal(a.frames, null);
});

Deno.test("shared decoders: a decoder that failed is not shared again", () => {
  const bad = new Session();
  const shared = frameDecoder(null);
  // A frame whose declared length is over the established bound: refused at once.
  assert.throws(() => bad.pushFrames(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f])), CodecError);
  assert.equal(bad.frames, null);
  assert.notEqual(frameDecoder(null), shared, "the failed decoder was replaced");
  const good = new Session();
  assert.deepEqual(good.pushFrames(frame(2)).map((f) => f.sequence), [2]);
});
