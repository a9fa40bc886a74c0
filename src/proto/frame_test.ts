import assert from "node:assert/strict";
import { CodecError, type CodecErrorKind } from "./errors.ts";
import {
  controlFrame,
  decodedFrameEnd,
  decodeFrame,
  decodeFrameAt,
  encodeFrame,
  type Frame,
  MAX_CONTROL_JSON_LEN,
  MAX_FRAME_LEN,
  withSequence,
} from "./frame.ts";
import { FrameType } from "./frame_type.ts";
import { decodeVarint, encodeVarint } from "./varint.ts";

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function bytes(hexText: string): Uint8Array {
  const clean = hexText.replace(/\s+/g, "");
  return new Uint8Array(clean.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
}

function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return new Uint8Array(parts.flatMap((p) => [...p]));
}

function throwsKind(fn: () => unknown, kind: CodecErrorKind, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${e}`);
    assert.equal(e.kind, kind);
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("vector: Msg ch9 seq1 payload 01020304", () => {
  const frame: Frame = {
    type: FrameType.Msg,
    channel: 9,
    sequence: 1,
    payload: bytes("01020304"),
  };
  const encoded = encodeFrame(frame);
  assert.equal(hex(encoded), "080509010401020304");
  assert.deepEqual(decodeFrame(encoded), { frame, consumed: 9 });
});

Deno.test('vector: Ack ch0 seq3 {"ack":1}', () => {
  const frame = controlFrame(FrameType.Ack, 0, 3, { ack: 1 });
  const encoded = encodeFrame(frame);
  assert.equal(hex(encoded), "0d060003097b2261636b223a317d");
  const decoded = decodeFrame(encoded);
  assert.deepEqual(decoded, { frame: { ...frame, control: { ack: 1 } }, consumed: 14 });
});

Deno.test("vector: Msg ch300 seq70000 empty payload", () => {
  const frame: Frame = { type: FrameType.Msg, channel: 300, sequence: 70000, payload: bytes("") };
  const encoded = encodeFrame(frame);
  assert.equal(hex(encoded), "0705ac02f0a20400");
  assert.deepEqual(decodeFrame(encoded), { frame, consumed: 8 });
});

Deno.test("vector: varint(16 MiB + 1) = 81 80 80 08 is rejected as a length prefix", () => {
  assert.equal(hex(encodeVarint(MAX_FRAME_LEN + 1)), "81808008");
  // Rejected as soon as the prefix is read: no body bytes are needed.
  throwsKind(() => decodeFrame(bytes("81808008")), "FrameTooLarge", "frame exceeds limits");
  // Exactly 16 MiB is allowed: the decoder just waits for the body.
  assert.equal(decodeFrame(bytes("80808008")), null);
});

Deno.test("decode: need more bytes returns null at every truncation", () => {
  const encoded = encodeFrame(controlFrame(FrameType.Join, 7, 8, { members: ["a", "b"] }));
  for (let n = 0; n < encoded.length; n++) {
    assert.equal(decodeFrame(encoded.subarray(0, n)), null, `prefix of ${n} bytes`);
  }
  assert.ok(decodeFrame(encoded));
});

Deno.test("decode: trailing bytes in the body are ignored; consumed stops at the body", () => {
  // body: Msg ch1 seq2 len1 payload aa, then 2 junk bytes inside the body
  const body = bytes("05 01 02 01 aa ee ff");
  const next = encodeFrame({ type: FrameType.Msg, channel: 0, sequence: 0, payload: bytes("") });
  const buf = cat([body.length], body, next);
  const result = decodeFrame(buf);
  assert.ok(result);
  assert.equal(result.consumed, 1 + body.length);
  assert.deepEqual([...result.frame.payload], [0xaa]);
  assert.deepEqual(decodeFrame(buf.subarray(result.consumed))?.consumed, next.length);
});

Deno.test("decode: payload is a copy, independent of the input buffer", () => {
  const encoded = encodeFrame({
    type: FrameType.Msg,
    channel: 1,
    sequence: 1,
    payload: bytes("aa"),
  });
  const result = decodeFrame(encoded)!;
  encoded.fill(0);
  assert.deepEqual([...result.frame.payload], [0xaa]);
});

Deno.test("decode: control payloads accept any JSON value", () => {
  for (const value of [null, 1, "x", [1, { a: true }], { nested: { deep: [] } }]) {
    const decoded = decodeFrame(encodeFrame(controlFrame(FrameType.Typing, 1, 1, value)));
    assert.deepEqual(decoded?.frame.control, value);
  }
  // Opaque types never parse, even when the bytes are JSON.
  const msg = decodeFrame(encodeFrame(controlFrame(FrameType.Msg, 1, 1, { a: 1 })));
  assert.equal(msg?.frame.control, undefined);
  assert.equal(new TextDecoder().decode(msg?.frame.payload), '{"a":1}');
});

Deno.test("decode: u64 integers in control JSON stay exact (bigint) and re-encode verbatim", () => {
  const json = '{"certificate":{"serial":18446744073709551615,"n":-9007199254740993},"x":1.5}';
  const frame: Frame = {
    type: FrameType.Hello,
    channel: 0,
    sequence: 1,
    payload: new TextEncoder().encode(json),
  };
  const decoded = decodeFrame(encodeFrame(frame))!.frame;
  assert.deepEqual(decoded.control, {
    certificate: { serial: 18446744073709551615n, n: -9007199254740993n },
    x: 1.5,
  });
  const again = controlFrame(FrameType.Hello, 0, 1, decoded.control);
  assert.equal(new TextDecoder().decode(again.payload), json);
});

Deno.test("errors: every kind, with the upstream display string", () => {
  const cases: [string, Uint8Array, CodecErrorKind, string][] = [
    [
      "varint overflow in prefix",
      new Uint8Array(10).fill(0xff),
      "VarintOverflow",
      "varint overflow",
    ],
    ["prefix over 16 MiB", bytes("81808008"), "FrameTooLarge", "frame exceeds limits"],
    ["body_len 0", bytes("00"), "EmptyFrame", "empty frame"],
    ["body_len 0 (non-minimal)", bytes("8000"), "EmptyFrame", "empty frame"],
    ["type 0x00", bytes("04 00 00 00 00"), "InvalidFrameType", "invalid frame type"],
    ["type 0x15", bytes("04 15 00 00 00"), "InvalidFrameType", "invalid frame type"],
    [
      "channel 2^32",
      cat([8], [0x05], encodeVarint(2 ** 32), [0, 0]),
      "ChannelIdTooLarge",
      "channel id exceeds limits",
    ],
    [
      "sequence 2^32",
      cat([8], [0x05, 0], encodeVarint(2 ** 32), [0]),
      "SequenceTooLarge",
      "sequence exceeds limits",
    ],
    [
      "payload_len over 16 MiB",
      cat([7], [0x05, 0, 0], encodeVarint(MAX_FRAME_LEN + 1)),
      "PayloadTooLarge",
      "payload exceeds limits",
    ],
    [
      "payload_len past the body",
      bytes("05 05 00 00 02 aa"),
      "UnexpectedEof",
      "unexpected end of frame",
    ],
    ["varint past the body", bytes("02 05 80"), "UnexpectedEof", "unexpected end of frame"],
    ["body holds only the type", bytes("01 05"), "UnexpectedEof", "unexpected end of frame"],
    [
      "varint overflow inside the body",
      cat([11], [0x05], new Uint8Array(10).fill(0x80)),
      "VarintOverflow",
      "varint overflow",
    ],
    [
      "control payload not JSON",
      bytes("06 06 00 00 02 7b 7b"),
      "InvalidControlJson",
      "invalid control payload",
    ],
    [
      "control payload empty",
      bytes("04 06 00 00 00"),
      "InvalidControlJson",
      "invalid control payload",
    ],
    [
      "control payload invalid UTF-8",
      bytes("07 06 00 00 03 22 ff 22"),
      "InvalidControlJson",
      "invalid control payload",
    ],
    [
      "control payload with a BOM",
      bytes("08 06 00 00 04 ef bb bf 31"),
      "InvalidControlJson",
      "invalid control payload",
    ],
  ];
  for (const [what, buf, kind, message] of cases) {
    assert.throws(() => decodeFrame(buf), (e: unknown) => {
      assert.ok(e instanceof CodecError, `${what}: expected CodecError, got ${e}`);
      assert.equal(e.kind, kind, what);
      assert.equal(e.message, message, what);
      return true;
    });
  }
});

Deno.test("errors: control payload over 256 KiB is ControlTooLarge (decode and encode)", () => {
  const big = new Uint8Array(MAX_CONTROL_JSON_LEN + 1).fill(0x20); // valid-length whitespace
  const asMsg = encodeFrame({ type: FrameType.Msg, channel: 0, sequence: 0, payload: big });
  asMsg[decodeVarint(asMsg)!.length] = FrameType.Typing; // rewrite the type byte
  throwsKind(() => decodeFrame(asMsg), "ControlTooLarge", "control payload exceeds limits");
  throwsKind(
    () => encodeFrame({ type: FrameType.Typing, channel: 0, sequence: 0, payload: big }),
    "ControlTooLarge",
    "control payload exceeds limits",
  );
  throwsKind(
    () => controlFrame(FrameType.Typing, 0, 0, "x".repeat(MAX_CONTROL_JSON_LEN)),
    "ControlTooLarge",
    "control payload exceeds limits",
  );
  // Exactly 256 KiB of JSON is fine.
  const ok = controlFrame(FrameType.Typing, 0, 0, "x".repeat(MAX_CONTROL_JSON_LEN - 2));
  assert.equal(decodeFrame(encodeFrame(ok))?.frame.control, "x".repeat(MAX_CONTROL_JSON_LEN - 2));
});

Deno.test("errors: nesting deeper than serde_json's limit is InvalidControlJson", () => {
  const ok = "[".repeat(127) + "]".repeat(127);
  const deep = "[".repeat(128) + "]".repeat(128);
  const frame = (json: string) =>
    encodeFrame({
      type: FrameType.GroupEvent,
      channel: 0,
      sequence: 0,
      payload: new TextEncoder().encode(json),
    });
  assert.ok(decodeFrame(frame(ok)));
  throwsKind(() => decodeFrame(frame(deep)), "InvalidControlJson", "invalid control payload");
  // Brackets inside strings do not count.
  assert.ok(decodeFrame(frame(`["${"[".repeat(500)}"]`)));
});

Deno.test("errors: encode limits", () => {
  const base = { type: FrameType.Msg, channel: 0, sequence: 0, payload: bytes("") } as Frame;
  throwsKind(
    () => encodeFrame({ ...base, channel: 2 ** 32 }),
    "ChannelIdTooLarge",
    "channel id exceeds limits",
  );
  throwsKind(
    () => encodeFrame({ ...base, sequence: 2 ** 32 }),
    "SequenceTooLarge",
    "sequence exceeds limits",
  );
  throwsKind(
    () => encodeFrame({ ...base, type: 0x15 as FrameType }),
    "InvalidFrameType",
    "invalid frame type",
  );
  throwsKind(
    () => encodeFrame({ ...base, payload: new Uint8Array(MAX_FRAME_LEN + 1) }),
    "PayloadTooLarge",
    "payload exceeds limits",
  );
  throwsKind(
    () => encodeFrame({ ...base, channel: 2 ** 32 - 1, payload: new Uint8Array(MAX_FRAME_LEN) }),
    "FrameTooLarge",
    "frame exceeds limits",
  );
  assert.throws(() => encodeFrame({ ...base, channel: -1 }), RangeError);
  assert.throws(() => encodeFrame({ ...base, sequence: 0.5 }), RangeError);
  assert.throws(() => controlFrame(FrameType.Ack, 0, 0, undefined), TypeError);
  // u32 maxima are fine.
  const max = { ...base, channel: 2 ** 32 - 1, sequence: 2 ** 32 - 1 };
  assert.deepEqual(decodeFrame(encodeFrame(max))?.frame, max);
});

Deno.test("decode: maxFrameLength lowers the prefix limit", () => {
  const encoded = encodeFrame({
    type: FrameType.Msg,
    channel: 1,
    sequence: 1,
    payload: new Uint8Array(100),
  });
  const bodyLength = encoded.length - 1;
  assert.ok(decodeFrame(encoded, { maxFrameLength: bodyLength }));
  throwsKind(
    () => decodeFrame(encoded.subarray(0, 1), { maxFrameLength: bodyLength - 1 }),
    "FrameTooLarge",
    "frame exceeds limits",
  );
  assert.throws(() => decodeFrame(encoded, { maxFrameLength: 0 }), RangeError);
  assert.throws(() => decodeFrame(encoded, { maxFrameLength: MAX_FRAME_LEN + 1 }), RangeError);
});

Deno.test("withSequence: frame objects get a shallow copy", () => {
  const frame = controlFrame(FrameType.Typing, 5, 1, { typing: true });
  const moved = withSequence(frame, 99);
  assert.equal(moved.sequence, 99);
  assert.equal(frame.sequence, 1);
  assert.equal(moved.payload, frame.payload);
  assert.throws(() => withSequence(frame, 2 ** 32), CodecError);
});

Deno.test("withSequence: encoded frames are re-sequenced, including varint size changes", () => {
  const frame: Frame = { type: FrameType.Msg, channel: 300, sequence: 1, payload: bytes("0102") };
  const encoded = encodeFrame(frame);
  for (const sequence of [0, 127, 128, 70000, 2 ** 32 - 1, 1]) {
    const moved = withSequence(encoded, sequence);
    assert.deepEqual(moved, encodeFrame({ ...frame, sequence }), `sequence ${sequence}`);
    assert.equal(decodeFrame(moved)?.frame.sequence, sequence);
  }
  assert.deepEqual([...encoded], [...encodeFrame(frame)], "input untouched");
  // Trailing bytes inside the body are kept verbatim.
  const padded = cat([7], bytes("05 01 02 01 aa ee ff"));
  assert.equal(hex(withSequence(padded, 300)), "080501ac0201aaeeff");
});

Deno.test("withSequence: malformed encoded input", () => {
  const encoded = encodeFrame({
    type: FrameType.Msg,
    channel: 1,
    sequence: 1,
    payload: bytes("aa"),
  });
  throwsKind(
    () => withSequence(encoded.subarray(0, 3), 2),
    "UnexpectedEof",
    "unexpected end of frame",
  );
  throwsKind(() => withSequence(bytes("00"), 2), "EmptyFrame", "empty frame");
  throwsKind(() => withSequence(bytes("02 00 00"), 2), "InvalidFrameType", "invalid frame type");
  throwsKind(() => withSequence(bytes("02 05 00"), 2), "UnexpectedEof", "unexpected end of frame");
  assert.throws(() => withSequence(cat(encoded, [0]), 2), RangeError);
});

Deno.test("decodeFrameAt: frames at an offset as decodeFrame of the rest, end from decodedFrameEnd", () => {
  const frames: Frame[] = [
    { type: FrameType.Msg, channel: 9, sequence: 1, payload: new Uint8Array([1, 2, 3, 4]) },
    controlFrame(FrameType.Ack, 0, 300, { ack: 7 }),
    { type: FrameType.Msg, channel: 70000, sequence: 2 ** 32 - 1, payload: new Uint8Array(200) },
  ];
  const parts = frames.map(encodeFrame);
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) joined.set(part, (at += part.length) - part.length);
  let start = 0;
  for (const view of [false, true]) {
    start = 0;
    for (let i = 0; i < frames.length; i++) {
      const expected = decodeFrame(joined.subarray(start))!;
      const frame = decodeFrameAt(joined, start, joined.length, MAX_FRAME_LEN, view)!;
      assert.deepEqual(frame, expected.frame);
      assert.equal(decodedFrameEnd(), start + expected.consumed);
      assert.equal("control" in frame, i === 1);
      start = decodedFrameEnd();
    }
  }
  // Bytes past `end` are not read: a frame cut by `end` needs more.
  assert.equal(decodeFrameAt(joined, 0, parts[0].length - 1, MAX_FRAME_LEN, false), null);
  assert.throws(
    () => decodeFrameAt(joined, 0, joined.length, parts[0].length - 2, false),
    (e: unknown) => e instanceof CodecError && e.kind === "FrameTooLarge",
  );
});
