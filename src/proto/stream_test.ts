import assert from "node:assert/strict";
import { CodecError } from "./errors.ts";
import { controlFrame, type DecodedFrame, decodeFrame, encodeFrame, type Frame } from "./frame.ts";
import { FrameType } from "./frame_type.ts";
import { FrameDecoder } from "./stream.ts";

function decodeAll(buf: Uint8Array): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const result = decodeFrame(buf.subarray(offset));
    if (result === null) break;
    frames.push(result.frame);
    offset += result.consumed;
  }
  return frames;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const msg = (sequence: number, size: number): Frame => ({
  type: FrameType.Msg,
  channel: 1,
  sequence,
  payload: new Uint8Array(size).fill(sequence & 0xff),
});

Deno.test("FrameDecoder: frames across chunk boundaries", () => {
  const frames = [msg(1, 3), controlFrame(FrameType.Ack, 0, 2, { ack: 1 }), msg(3, 0)];
  const stream = concat(frames.map(encodeFrame));
  const expected = decodeAll(stream);
  assert.equal(expected.length, 3);
  const decoder = new FrameDecoder();
  const got = [
    ...decoder.push(stream.subarray(0, 5)),
    ...decoder.push(stream.subarray(5, 6)),
    ...decoder.push(stream.subarray(6)),
  ];
  assert.deepEqual(got, expected);
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder: buffered counts pending bytes; empty chunks are harmless", () => {
  const decoder = new FrameDecoder();
  const encoded = encodeFrame(msg(1, 10));
  assert.deepEqual(decoder.push(new Uint8Array(0)), []);
  assert.deepEqual(decoder.push(encoded.subarray(0, 4)), []);
  assert.equal(decoder.buffered, 4);
  assert.equal(decoder.push(encoded.subarray(4)).length, 1);
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder: the chunk is copied, so callers may reuse it", () => {
  const decoder = new FrameDecoder();
  const encoded = encodeFrame(msg(7, 4));
  const chunk = encoded.slice(0, 3);
  decoder.push(chunk);
  chunk.fill(0);
  const [frame] = decoder.push(encoded.subarray(3));
  assert.deepEqual(frame, msg(7, 4));
});

Deno.test("FrameDecoder: one large frame byte by byte, then many small chunks", () => {
  const big = msg(2, 200_000);
  const encoded = encodeFrame(big);
  const decoder = new FrameDecoder();
  let frames: DecodedFrame[] = [];
  for (let i = 0; i < encoded.length; i++) {
    frames = frames.concat(decoder.push(encoded.subarray(i, i + 1)));
  }
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0], big);

  const many = concat(Array.from({ length: 5000 }, (_, i) => encodeFrame(msg(i, i % 17))));
  let count = 0;
  for (let i = 0; i < many.length; i += 3) count += decoder.push(many.subarray(i, i + 3)).length;
  assert.equal(count, 5000);
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder: an oversized prefix fails before the body arrives", () => {
  const decoder = new FrameDecoder({ maxFrameLength: 1024 });
  assert.equal(decoder.maxFrameLength, 1024);
  assert.throws(
    () => decoder.push(new Uint8Array([0x81, 0x08])), // 1025
    (e: unknown) => e instanceof CodecError && e.kind === "FrameTooLarge",
  );
});

Deno.test("FrameDecoder: maxFrameLength can be lowered between chunks", () => {
  const decoder = new FrameDecoder();
  const big = encodeFrame(msg(1, 2000));
  assert.equal(decoder.push(big).length, 1);
  decoder.maxFrameLength = 1024;
  assert.throws(() => decoder.push(big), CodecError);
  assert.throws(() => (decoder.maxFrameLength = 0), RangeError);
});

Deno.test("FrameDecoder: decoders with the same settings share options, and one decoder's change leaves the others alone", () => {
  const big = encodeFrame(msg(1, 2000));
  const lowered = new FrameDecoder({ viewPayloads: true });
  const other = new FrameDecoder({ viewPayloads: true });
  const copying = new FrameDecoder();
  lowered.maxFrameLength = 1024;
  assert.equal(lowered.maxFrameLength, 1024);
  assert.equal(other.maxFrameLength, 16 * 1024 * 1024);
  assert.throws(() => lowered.push(big), CodecError);
  // The other decoders still take the frame, each with its own payload mode.
  const viewed = other.push(big)[0];
  assert.equal(viewed.payload.buffer, big.buffer);
  const copied = copying.push(big)[0];
  assert.notEqual(copied.payload.buffer, big.buffer);
  assert.deepEqual(copied.payload, viewed.payload);
  // A decoder lowered to the same length behaves like one made with it.
  other.maxFrameLength = 1024;
  assert.throws(() => other.push(big), CodecError);
  // More distinct lengths than the shared table holds: each decoder still enforces its own.
  const body = big.length - 2; // a two-byte length prefix
  for (let max = body - 60; max <= body + 60; max++) {
    const decoder = new FrameDecoder({ maxFrameLength: max });
    assert.equal(decoder.maxFrameLength, max);
    if (max >= body) assert.equal(decoder.push(big).length, 1);
    else assert.throws(() => decoder.push(big), CodecError);
  }
});

Deno.test("FrameDecoder: a lone 0x00 fails fast with EmptyFrame", () => {
  const decoder = new FrameDecoder();
  assert.throws(
    () => decoder.push(new Uint8Array([0x00])),
    (e: unknown) => e instanceof CodecError && e.kind === "EmptyFrame",
  );
});

Deno.test("FrameDecoder: after an error it stays failed until reset()", () => {
  const decoder = new FrameDecoder();
  const good = encodeFrame(msg(1, 2));
  assert.throws(() => decoder.push(concat([good, new Uint8Array([0x01, 0x77])])), CodecError);
  assert.throws(() => decoder.push(good), CodecError);
  assert.throws(() => decoder.next(), CodecError);
  decoder.reset();
  assert.equal(decoder.buffered, 0);
  assert.deepEqual(decoder.push(good), [msg(1, 2)]);
});

Deno.test("FrameDecoder: append()/next() yield frames up to the exact point of failure", () => {
  const decoder = new FrameDecoder();
  decoder.append(concat([encodeFrame(msg(1, 1)), encodeFrame(msg(2, 1)), new Uint8Array([0x00])]));
  assert.equal(decoder.next()?.sequence, 1);
  assert.equal(decoder.next()?.sequence, 2);
  assert.throws(() => decoder.next(), CodecError);
});

Deno.test("FrameDecoder: whole frames decode from the chunk; a partial tail is kept", () => {
  const frames = [msg(1, 40), msg(2, 0), controlFrame(FrameType.Ack, 0, 3, { ack: 2 })];
  const stream = concat(frames.map(encodeFrame));
  const expected = decodeAll(stream);
  const decoder = new FrameDecoder();
  const cut = stream.length - 3;
  const chunk = stream.slice(0, cut);
  const first = decoder.push(chunk);
  assert.deepEqual(first, expected.slice(0, 2));
  assert.equal(
    decoder.buffered,
    cut - encodeFrame(frames[0]).length - encodeFrame(frames[1]).length,
  );
  // Payloads are copies: reusing the chunk does not change frames already returned.
  chunk.fill(0);
  assert.deepEqual(first, expected.slice(0, 2));
  assert.deepEqual(decoder.push(stream.subarray(cut)), expected.slice(2));
  assert.equal(decoder.buffered, 0);
  // Then whole frames again, straight from the chunk.
  assert.deepEqual(decoder.push(stream), expected);
});

Deno.test("FrameDecoder: an error on the direct path also sticks until reset()", () => {
  const decoder = new FrameDecoder();
  const bad = new Uint8Array([1, 0xff]); // body of 1 byte, invalid frame type
  assert.throws(() => decoder.push(concat([encodeFrame(msg(1, 2)), bad])), CodecError);
  assert.throws(() => decoder.push(encodeFrame(msg(2, 2))), CodecError);
  decoder.reset();
  assert.equal(decoder.push(encodeFrame(msg(3, 2))).length, 1);
});

Deno.test("FrameDecoder: push(chunk, end) reads only chunk[0..end), directly and with a partial frame kept", () => {
  const a = encodeFrame({
    type: FrameType.Msg,
    channel: 1,
    sequence: 1,
    payload: new Uint8Array([1, 2]),
  });
  const b = encodeFrame({
    type: FrameType.Msg,
    channel: 1,
    sequence: 2,
    payload: new Uint8Array([3]),
  });
  const padded = new Uint8Array(a.length + b.length + 5);
  padded.set(a);
  padded.set(b, a.length);
  padded.fill(0xff, a.length + b.length); // past `end`: never read
  const decoder = new FrameDecoder();
  assert.deepEqual(
    decoder.push(padded, a.length + b.length).map((f) => f.sequence),
    [1, 2],
  );
  assert.equal(decoder.buffered, 0);
  assert.deepEqual(decoder.push(padded, a.length + 1).map((f) => f.sequence), [1]);
  assert.equal(decoder.buffered, 1, "only the byte before `end` is kept");
  assert.deepEqual(decoder.push(b.subarray(1)).map((f) => f.sequence), [2]);
});

Deno.test("FrameDecoder.pushEach hands out what push returns, directly and across chunks", () => {
  const frames = [msg(1, 3), controlFrame(FrameType.Ack, 0, 2, { ack: 1 }), msg(3, 0), msg(4, 300)];
  const stream = concat(frames.map(encodeFrame));
  const expected = decodeAll(stream);
  for (const size of [1, 5, 64, stream.length]) {
    const decoder = new FrameDecoder({ viewPayloads: true });
    const got: DecodedFrame[] = [];
    for (let i = 0; i < stream.length; i += size) {
      const chunk = stream.slice(i, i + size);
      decoder.pushEach(chunk, chunk.length, (frame) => got.push(frame));
    }
    assert.deepEqual(got, expected, `chunks of ${size}`);
    assert.equal(decoder.buffered, 0);
  }
  // `end`: only chunk[0..end) is read.
  const padded = concat([stream, new Uint8Array([0xff, 0xff])]);
  const got: number[] = [];
  new FrameDecoder().pushEach(padded, stream.length, (frame) => got.push(frame.sequence));
  assert.deepEqual(got, [1, 2, 3, 4]);
});

Deno.test("FrameDecoder.pushEach: frames before malformed input are handled, then it throws", () => {
  const good = encodeFrame(msg(1, 2));
  const decoder = new FrameDecoder();
  const got: number[] = [];
  const chunk = concat([good, new Uint8Array([0])]);
  assert.throws(
    () => decoder.pushEach(chunk, chunk.length, (f) => got.push(f.sequence)),
    CodecError,
  );
  assert.deepEqual(got, [1]);
  assert.throws(() => decoder.pushEach(good, good.length, () => {}), CodecError, "stays failed");
});
