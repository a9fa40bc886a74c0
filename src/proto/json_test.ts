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
