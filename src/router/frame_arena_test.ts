import assert from "node:assert/strict";
import { encodeFrame, type Frame, FrameType } from "../proto/mod.ts";
import { FrameArena } from "./frame_arena.ts";
import { copyBytes, LazyEncodedFrame } from "./kept_copies.ts";

function msg(sequence: number, size: number, fill = 7): Frame {
  return { type: FrameType.Msg, channel: 3, sequence, payload: new Uint8Array(size).fill(fill) };
}

Deno.test("frame arena: a small kept frame is encoded at once and lets its frame go", () => {
  const arena = new FrameArena(4096, 1024);
  // The payload is a view into a larger received buffer, as decoded frames' are.
  const received = new Uint8Array(512).fill(9);
  const frame: Frame = {
    type: FrameType.Msg,
    channel: 5,
    sequence: 42,
    payload: received.subarray(10, 110),
  };
  const expected = encodeFrame(frame);
  const kept = new LazyEncodedFrame(frame, arena);
  assert.equal(kept.length, expected.length);
  // Not held: a later change of the frame or its buffer does not reach the copy.
  received.fill(0);
  frame.sequence = 43;
  const bytes = copyBytes(kept);
  assert.deepEqual(bytes, expected);
  assert.equal(
    bytes.byteLength,
    bytes.buffer.byteLength,
    "bytes of its own, not a view of the chunk",
  );
  assert.notEqual(bytes.buffer, arena.chunk.buffer);
  assert.equal(copyBytes(kept), bytes, "the copies of one frame share one encoding");
});

Deno.test("frame arena: a frame over the bound is kept as the frame, encoded when first written", () => {
  const arena = new FrameArena(4096, 64);
  const frame = msg(1, 200);
  const kept = new LazyEncodedFrame(frame, arena);
  assert.equal(arena.reserve(1), 0, "the large frame took no room");
  assert.deepEqual(copyBytes(kept), encodeFrame(frame));
});

Deno.test("frame arena: a full chunk is left to its copies and a new one started", () => {
  const arena = new FrameArena(256, 128);
  const frames = Array.from({ length: 10 }, (_, i) => msg(i + 1, 90, i));
  const kept = frames.map((f) => new LazyEncodedFrame(f, arena));
  for (const f of frames) f.payload.fill(0xff);
  // Two 95-byte frames per 256-byte chunk: five chunks, the last one full, each copy intact.
  for (let i = 0; i < frames.length; i++) {
    assert.deepEqual(copyBytes(kept[i]), encodeFrame(msg(i + 1, 90, i)), `copy ${i}`);
  }
  const last = arena.chunk;
  assert.equal(arena.reserve(128), 0, "a reservation that does not fit starts a new chunk");
  assert.notEqual(arena.chunk, last);
  assert.equal(arena.chunk.length, 256);
});

Deno.test("frame arena: its chunk must hold a frame", () => {
  assert.throws(() => new FrameArena(64, 128), RangeError);
  assert.throws(() => new FrameArena(64, 0), RangeError);
});
