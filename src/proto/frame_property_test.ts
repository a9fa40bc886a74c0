/**
 * Seeded property tests for the frame codec and the stream decoder.
 */
import assert from "node:assert/strict";
import { CodecError } from "./errors.ts";
import { type DecodedFrame, decodeFrame, encodeFrame, withSequence } from "./frame.ts";
import { isControlType } from "./frame_type.ts";
import { FrameDecoder } from "./stream.ts";
import { Prng, randomFrame, randomU32 } from "./_test_util.ts";

const ITERATIONS = 500;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

Deno.test("property: random frames round-trip through encode/decode", () => {
  const rng = new Prng(1);
  for (let i = 0; i < ITERATIONS; i++) {
    const frame = randomFrame(rng);
    const encoded = encodeFrame(frame);
    const result = decodeFrame(encoded);
    assert.ok(result, `iteration ${i}`);
    assert.equal(result.consumed, encoded.length);
    const { control, ...plain } = result.frame;
    assert.deepEqual(plain, frame);
    if (isControlType(frame.type)) {
      assert.deepEqual(control, JSON.parse(new TextDecoder().decode(frame.payload)));
    } else {
      assert.equal(control, undefined);
    }
    // Re-sequencing the bytes equals encoding with the new sequence.
    const sequence = randomU32(rng);
    assert.deepEqual(withSequence(encoded, sequence), encodeFrame({ ...frame, sequence }));
  }
});

function mutate(rng: Prng, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  switch (rng.below(4)) {
    case 0: // flip some bytes
      for (let n = rng.range(1, 3); n > 0 && out.length > 0; n--) {
        out[rng.below(out.length)] = rng.u32() & 0xff;
      }
      return out;
    case 1: // truncate
      return out.subarray(0, rng.below(out.length + 1));
    case 2: // append junk
      return concat([out, rng.bytes(rng.range(1, 8))]);
    default: // bump the length prefix
      if (out.length > 0) out[0] = (out[0] + rng.range(-2, 2)) & 0xff;
      return out;
  }
}

Deno.test("property: any byte string decodes, needs more, or throws CodecError", () => {
  const rng = new Prng(2);
  let decoded = 0, needMore = 0, rejected = 0;
  for (let i = 0; i < ITERATIONS * 4; i++) {
    const input = rng.chance(0.4)
      ? rng.bytes(rng.below(40))
      : mutate(rng, encodeFrame(randomFrame(rng, 40)));
    const maxFrameLength = rng.chance(0.2) ? rng.range(1, 64) : undefined;
    try {
      const result = decodeFrame(input, { maxFrameLength });
      if (result === null) needMore++;
      else {
        decoded++;
        assert.ok(result.consumed <= input.length);
      }
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      rejected++;
    }
  }
  // The generator must exercise all three outcomes.
  assert.ok(decoded > 0 && needMore > 0 && rejected > 0, `${decoded}/${needMore}/${rejected}`);
});

Deno.test("property: concatenated frames decode identically under every split and byte by byte", () => {
  const rng = new Prng(3);
  for (let i = 0; i < ITERATIONS; i++) {
    const frames = Array.from({ length: rng.range(1, 5) }, () => randomFrame(rng, 24));
    const stream = concat(frames.map(encodeFrame));
    const expected: DecodedFrame[] = [];
    for (let offset = 0; offset < stream.length;) {
      const result = decodeFrame(stream.subarray(offset))!;
      expected.push(result.frame);
      offset += result.consumed;
    }
    assert.equal(expected.length, frames.length);

    for (let split = 0; split <= stream.length; split++) {
      const decoder = new FrameDecoder();
      const got = [
        ...decoder.push(stream.subarray(0, split)),
        ...decoder.push(stream.subarray(split)),
      ];
      assert.deepEqual(got, expected, `iteration ${i}, split ${split}`);
      assert.equal(decoder.buffered, 0);
    }

    const decoder = new FrameDecoder();
    const got: DecodedFrame[] = [];
    for (let b = 0; b < stream.length; b++) got.push(...decoder.push(stream.subarray(b, b + 1)));
    assert.deepEqual(got, expected, `iteration ${i}, byte by byte`);
  }
});

Deno.test("property: a corrupted stream fails the same way under any chunking", () => {
  const rng = new Prng(4);
  for (let i = 0; i < ITERATIONS; i++) {
    const stream = mutate(
      rng,
      concat(Array.from({ length: rng.range(1, 3) }, () => encodeFrame(randomFrame(rng, 16)))),
    );
    const outcome = (chunkSize: number) => {
      const decoder = new FrameDecoder();
      const frames: DecodedFrame[] = [];
      try {
        for (let b = 0; b < stream.length; b += chunkSize) {
          decoder.append(stream.subarray(b, b + chunkSize));
          for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(f);
        }
        return { frames, error: undefined, buffered: decoder.buffered };
      } catch (error) {
        if (!(error instanceof CodecError)) throw error;
        return { frames, error: error.kind, buffered: -1 };
      }
    };
    const whole = outcome(stream.length || 1);
    assert.deepEqual(outcome(1), whole, `iteration ${i}`);
    assert.deepEqual(outcome(rng.range(2, 7)), whole, `iteration ${i}`);
  }
});
