import assert from "node:assert/strict";
import { CodecError } from "./errors.ts";
import { parseControlJson, stringifyControlJson } from "./json.ts";

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("json: compact output like serde_json::to_vec", () => {
  assert.equal(
    dec(stringifyControlJson({ a: [1, "é", null], b: { c: true } })),
    '{"a":[1,"é",null],"b":{"c":true}}',
  );
});

Deno.test("json: unsafe integers become bigint and round-trip; safe ones stay numbers", () => {
  const value = parseControlJson(
    enc("[9007199254740991,9007199254740992,-18446744073709551615,1e300,0.1]"),
  );
  assert.deepEqual(value, [
    9007199254740991,
    9007199254740992n,
    -18446744073709551615n,
    1e300,
    0.1,
  ]);
  assert.equal(
    dec(stringifyControlJson(value)),
    "[9007199254740991,9007199254740992,-18446744073709551615,1e+300,0.1]",
  );
  // Long digit runs inside strings are left alone.
  assert.deepEqual(parseControlJson(enc('{"id":"12345678901234567890"}')), {
    id: "12345678901234567890",
  });
});

Deno.test("json: rejects what serde_json rejects", () => {
  for (
    const bad of [
      "",
      " ",
      "{",
      "[1,]",
      "{'a':1}",
      "NaN",
      "\ufeff1",
      "[" + "[".repeat(127) + "]".repeat(128),
    ]
  ) {
    assert.throws(() => parseControlJson(enc(bad)), CodecError, JSON.stringify(bad.slice(0, 10)));
  }
  assert.throws(() => parseControlJson(new Uint8Array([0x22, 0xc3, 0x22])), CodecError);
});

Deno.test("json: values JSON cannot represent are a TypeError", () => {
  assert.throws(() => stringifyControlJson(undefined), TypeError);
  assert.throws(() => stringifyControlJson(() => 1), TypeError);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => stringifyControlJson(cyclic), TypeError);
});

Deno.test("json: short ASCII payloads (read byte by byte) and the rest (TextDecoder) parse alike", () => {
  // Every ASCII byte inside a string, escaped where JSON needs it; at, under and over 256 bytes.
  const printable = Array.from({ length: 0x80 }, (_, c) => String.fromCharCode(c)).join("");
  const texts = [printable.slice(0, 32), printable.slice(32), printable.repeat(2)];
  const payloads = texts.map((text) => enc(JSON.stringify({ ack: 7, upto: true, text })));
  assert.deepEqual(payloads.map((p) => p.length <= 256), [true, true, false]);
  payloads.forEach((payload, i) =>
    assert.deepEqual(parseControlJson(payload), { ack: 7, upto: true, text: texts[i] })
  );
  assert.deepEqual(parseControlJson(enc('{"ack":4294967295,"upto":true}')), {
    ack: 4294967295,
    upto: true,
  });
  // Non-ASCII goes through the strict decoder, short or not: é is accepted, a lone 0xff is not.
  assert.deepEqual(parseControlJson(enc('["é"]')), ["é"]);
  assert.throws(() => parseControlJson(new Uint8Array([0x5b, 0x22, 0xff, 0x22, 0x5d])), CodecError);
  const bomThenAscii = new Uint8Array([0xef, 0xbb, 0xbf, 0x31]);
  assert.throws(() => parseControlJson(bomThenAscii), CodecError);
});

Deno.test("json: the plain Ack fast path accepts and refuses exactly what the full parser does", () => {
  const cases: [string, unknown][] = [
    ['{"ack":0}', { ack: 0 }],
    ['{"ack":7}', { ack: 7 }],
    ['{"ack":123456789012345}', { ack: 123456789012345 }], // 15 digits: the fast path's last
    ['{"ack":9007199254740991}', { ack: 9007199254740991 }], // 16 digits: the full parser
    ['{"ack":9007199254740993}', { ack: 9007199254740993n }], // past 2^53: bigint, as before
    ['{"ack":123456789012345678901234567890}', { ack: 123456789012345678901234567890n }],
    ['{ "ack" : 5 }', { ack: 5 }],
    ['{"ack":5 }', { ack: 5 }],
    [' {"ack":5}', { ack: 5 }],
    ['{"ack":5}\n', { ack: 5 }],
    ['{"ack":-5}', { ack: -5 }],
    ['{"ack":-0}', { ack: -0 }],
    ['{"ack":5.5}', { ack: 5.5 }],
    ['{"ack":5e2}', { ack: 500 }],
    ['{"ack":5,"upto":true}', { ack: 5, upto: true }],
    ['{"ack":0,"upto":true}', { ack: 0, upto: true }],
    ['{"ack":123456789012345,"upto":true}', { ack: 123456789012345, upto: true }],
    ['{"ack":9007199254740993,"upto":true}', { ack: 9007199254740993n, upto: true }],
    ['{"ack":5,"upto":false}', { ack: 5, upto: false }],
    ['{"ack":5,"upto":true }', { ack: 5, upto: true }],
    ['{"ack":5,"upto":truex}', "throws"],
    ['{"ack":5,"uptoo":true}', { ack: 5, uptoo: true }],
    ['{"ack":05,"upto":true}', "throws"],
    ['{"ack":5,"upto":true}}', "throws"],
    ['{"ack":5,"ack":6}', { ack: 6 }],
    ['{"upto":true,"ack":5}', { upto: true, ack: 5 }],
    ['{"ack":"5"}', { ack: "5" }],
    ['{"ACK":5}', { ACK: 5 }],
    ['{"ack":007}', "throws"],
    ['{"ack":00}', "throws"],
    ['{"ack":}', "throws"],
    ['{"ack":5', "throws"],
    ['{"ack":5}}', "throws"],
    ['{"ack":5x}', "throws"],
    ['{"ack":+5}', "throws"],
    ['{"ack":0x5}', "throws"],
    ['{"ack":1234567890123456789}', { ack: 1234567890123456789n }],
  ];
  for (const [text, expected] of cases) {
    const bytes = new TextEncoder().encode(text);
    if (expected === "throws") {
      assert.throws(() => parseControlJson(bytes), CodecError, text);
    } else {
      assert.deepEqual(parseControlJson(bytes), expected, text);
      // Each call gives a fresh object: a caller may change it.
      assert.notEqual(parseControlJson(bytes), parseControlJson(bytes));
    }
  }
  // Every 1–15 digit value the fast path takes is the number JSON.parse reads.
  for (let digits = 1; digits <= 15; digits++) {
    const n = Number("9".repeat(digits)) - digits;
    for (const text of [`{"ack":${n}}`, `{"ack":${n},"upto":true}`]) {
      assert.deepEqual(parseControlJson(new TextEncoder().encode(text)), JSON.parse(text), text);
    }
  }
});
