import assert from "node:assert/strict";
import {
  canonicalJson,
  CanonicalJsonError,
  compareCodePoints,
  formatF64,
  JsonNumber,
  parseJsonKeepingNumbers,
} from "./canonical.ts";

Deno.test("canonicalJson: compact, keys sorted recursively by UTF-8 bytes", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [true, null, "x"], c: "y" }, "": 0 }),
    '{"":0,"a":{"c":"y","d":[true,null,"x"]},"b":1}',
  );
  // UTF-16 order puts U+FF5E before U+1F600 (a surrogate pair); UTF-8 order the other way.
  assert.equal(canonicalJson({ "\u{1F600}": 1, "\uFF5E": 2 }), '{"\uFF5E":2,"\u{1F600}":1}');
  assert.ok(compareCodePoints("a", "ab") < 0);
  assert.ok(compareCodePoints("\u{10000}", "\uFFFF") > 0);
});

Deno.test("canonicalJson: strings escaped as serde_json does, lone surrogates refused", () => {
  assert.equal(
    canonicalJson('a"\\\n\t\u0001\u007f/\u2028é'),
    '"a\\"\\\\\\n\\t\\u0001\u007f/\u2028é"',
  );
  assert.throws(() => canonicalJson("\ud800"), CanonicalJsonError);
});

Deno.test("canonicalJson: integers plain, floats like ryu", () => {
  const cases: [string, string][] = [
    ["0", "0"],
    ["-7", "-7"],
    ["18446744073709551615", "18446744073709551615"],
    ["-9223372036854775808", "-9223372036854775808"],
    ["18446744073709551616", "1.8446744073709552e19"],
    ["-0", "-0.0"],
    ["1.0", "1.0"],
    ["1.50", "1.5"],
    ["0.1", "0.1"],
    ["1e2", "100.0"],
    ["1E-7", "1e-7"],
    ["0.0001", "0.0001"],
    ["0.00001", "0.00001"],
    ["0.000001", "1e-6"],
    ["123.456e5", "12345600.0"],
    ["1e16", "1e16"],
    ["1e15", "1000000000000000.0"],
    ["12345678901234567.0", "1.2345678901234568e16"],
    ["1.5e300", "1.5e300"],
    ["-2.5e-10", "-2.5e-10"],
  ];
  for (const [source, expected] of cases) {
    assert.equal(canonicalJson(new JsonNumber(source)), expected, source);
  }
  assert.equal(canonicalJson(42), "42");
  assert.equal(canonicalJson(0.5), "0.5");
  assert.equal(canonicalJson(2n ** 64n - 1n), "18446744073709551615");
  assert.equal(formatF64(5e-324), "5e-324");
  assert.throws(() => canonicalJson(NaN), CanonicalJsonError);
  assert.throws(() => canonicalJson(new JsonNumber("1e400")), CanonicalJsonError);
});

Deno.test("parseJsonKeepingNumbers keeps each number's source text", () => {
  const v = parseJsonKeepingNumbers('{"z":[1.0,1,-0,2e1],"a":"s"}');
  assert.equal(canonicalJson(v), '{"a":"s","z":[1.0,1,-0.0,20.0]}');
});
