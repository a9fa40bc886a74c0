import assert from "node:assert/strict";
import { encodeFrame } from "./frame.ts";
import { FrameType } from "./frame_type.ts";
import { controlFrame, decodeFrame, FrameDecoder } from "./mod.ts";
import {
  isPaddedSize,
  MAX_PADDED_PLAINTEXT,
  paddedFramesEnd,
  paddedLength,
  PaddingError,
  type PaddingPolicy,
  paddingPolicyText,
  padme,
  padPlaintext,
  parsePaddingPolicy,
  stripPadding,
} from "./padding.ts";

const CLASSES: PaddingPolicy = { mode: "classes" };

/** The PaddingError `fn` throws (fails when it throws nothing or something else). */
function paddingError(fn: () => unknown): PaddingError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PaddingError, `expected a PaddingError, got ${error}`);
    return error;
  }
  assert.fail("expected a PaddingError");
}

function frame(type: FrameType, payloadBytes: number, sequence = 1): Uint8Array {
  return encodeFrame({ type, channel: 3, sequence, payload: new Uint8Array(payloadBytes).fill(7) });
}

Deno.test("padding: classes policy sizes (256 B floor, powers of two to 16 KiB, Padmé above, cap)", () => {
  assert.deepEqual(paddedLength(0, CLASSES), 256);
  assert.deepEqual(paddedLength(100, CLASSES), 256);
  assert.deepEqual(paddedLength(255, CLASSES), 256);
  // 256 bytes of frames leave no room for the marker: the next class.
  assert.deepEqual(paddedLength(256, CLASSES), 512);
  assert.deepEqual(paddedLength(1000, CLASSES), 1024);
  assert.deepEqual(paddedLength(16383, CLASSES), 16384);
  // Above 16 KiB: Padmé (multiples of 1 KiB below 32 KiB, 2 KiB below 64 KiB).
  assert.deepEqual(paddedLength(16384, CLASSES), 17 * 1024);
  assert.deepEqual(paddedLength(40_000, CLASSES), 40_960);
  // Never beyond the largest Noise plaintext; a full one needs no marker.
  assert.deepEqual(paddedLength(65_000, CLASSES), MAX_PADDED_PLAINTEXT);
  assert.deepEqual(paddedLength(MAX_PADDED_PLAINTEXT, CLASSES), MAX_PADDED_PLAINTEXT);
  for (let n = 0; n <= MAX_PADDED_PLAINTEXT; n += 97) {
    const size = paddedLength(n, CLASSES);
    if (!(size > n || n === MAX_PADDED_PLAINTEXT) || !isPaddedSize(size, CLASSES)) {
      throw new Error(`length ${n} → ${size} is not a class with room for the marker`);
    }
  }
});

Deno.test("padding: voice is 160 B under classes; larger voice falls back to the classes", () => {
  assert.deepEqual(paddedLength(100, CLASSES, true), 160);
  assert.deepEqual(paddedLength(159, CLASSES, true), 160);
  assert.deepEqual(paddedLength(160, CLASSES, true), 256);
  assert.deepEqual(isPaddedSize(160, CLASSES), true);
  assert.deepEqual(isPaddedSize(200, CLASSES), false);
});

Deno.test("padding: block policy pads every message (voice too) to a multiple of the block", () => {
  const block: PaddingPolicy = { mode: "block", block: 512 };
  assert.deepEqual(paddedLength(0, block), 512);
  assert.deepEqual(paddedLength(511, block), 512);
  assert.deepEqual(paddedLength(512, block), 1024);
  assert.deepEqual(paddedLength(100, block, true), 512);
  assert.deepEqual(paddedLength(65_300, block), MAX_PADDED_PLAINTEXT);
  assert.deepEqual(paddedLength(100, { mode: "off" }), 100);
});

Deno.test("padding: Padmé matches the paper's bit-mask form", () => {
  for (const n of [2, 3, 9, 100, 1000, 16385, 40_000, 65_519, 1_000_000]) {
    const e = Math.floor(Math.log2(n));
    const s = Math.floor(Math.log2(e)) + 1;
    const mask = (1 << (e - s)) - 1;
    assert.deepEqual(padme(n), (n + mask) & ~mask, `padme(${n})`);
  }
});

Deno.test("padding: the text form parses, round-trips, and a bad value says what is accepted", () => {
  for (const text of ["off", "classes", "block:16", "block:1024", "block:65519"]) {
    assert.deepEqual(paddingPolicyText(parsePaddingPolicy(text)), text);
  }
  for (const bad of ["", "on", "block:", "block:8", "block:65520", "block:1e3", "Classes"]) {
    assert.throws(() => parsePaddingPolicy(bad), /"off", "classes" or "block:<bytes>"/);
  }
});

Deno.test("padding: the receiver strips padding and reads every frame before the marker", () => {
  const ack = encodeFrame(controlFrame(FrameType.Ack, 0, 1, { ack: 9 }));
  const frames = [ack, frame(FrameType.Msg, 300, 2)];
  const plain = new Uint8Array(frames[0].length + frames[1].length);
  plain.set(frames[0]);
  plain.set(frames[1], frames[0].length);
  const padded = padPlaintext(plain, CLASSES);
  assert.deepEqual(padded.length, 512);
  const stripped = stripPadding(padded);
  assert.deepEqual(stripped, plain);
  const decoded = new FrameDecoder().push(stripped);
  assert.deepEqual(decoded.map((f) => f.sequence), [1, 2]);
  // A message that ends exactly after its frames (no marker) is read as it is.
  assert.deepEqual(stripPadding(plain), plain);
  // Padding only: no frame at all (cover traffic).
  assert.deepEqual(stripPadding(padPlaintext(new Uint8Array(0), CLASSES, true)).length, 0);
  assert.deepEqual(stripPadding(new Uint8Array(0)).length, 0);
  // A plaintext decrypted in place, its tag still behind it: only its length is read.
  const withTag = new Uint8Array(padded.length + 16).fill(7);
  withTag.set(padded);
  assert.equal(paddedFramesEnd(withTag, padded.length), plain.length);
  assert.equal(paddingError(() => paddedFramesEnd(withTag)).kind, "NonZeroPadding");
  // An upstream single-frame message is unchanged by stripping.
  const one = frame(FrameType.Msg, 40);
  assert.deepEqual(decodeFrame(stripPadding(one))?.consumed, one.length);
});

Deno.test("padding: a non-zero byte after the marker is refused", () => {
  const padded = padPlaintext(frame(FrameType.Msg, 20), CLASSES);
  padded[padded.length - 1] = 1;
  const error = paddingError(() => stripPadding(padded));
  assert.deepEqual(error.kind, "NonZeroPadding");
  assert.deepEqual(error.message, "padding: a non-zero byte after the end marker");
});

Deno.test("padding: a frame length that runs past the message (a lie, or a split frame) is refused", () => {
  const whole = frame(FrameType.Msg, 50);
  // Split: the message ends inside the frame.
  assert.deepEqual(
    paddingError(() => stripPadding(whole.subarray(0, 30))).kind,
    "FrameCrossesEnd",
  );
  // A lying length: claims more than the padded message holds.
  const padded = padPlaintext(whole, CLASSES);
  padded[0] = 0xff;
  padded[1] = 0x03; // varint 511 > 256 − 2
  assert.deepEqual(paddingError(() => stripPadding(padded)).kind, "FrameCrossesEnd");
  // A varint cut off by the end of the message.
  assert.deepEqual(
    paddingError(() => stripPadding(new Uint8Array([0x80]))).kind,
    "FrameCrossesEnd",
  );
});
