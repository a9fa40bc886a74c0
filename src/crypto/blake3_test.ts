import assert from "node:assert/strict";
import { toHex, utf8 } from "./bytes.ts";
import { blake3, blake3Xof64 } from "./blake3.ts";

Deno.test("blake3: known digests", () => {
  assert.equal(
    toHex(blake3(new Uint8Array(0))),
    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
  );
  assert.equal(
    toHex(blake3(utf8("abc"))),
    "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85",
  );
});

Deno.test("blake3: XOF output extends the 32-byte digest", () => {
  const data = utf8("commucat");
  const xof = blake3Xof64(data);
  assert.equal(xof.length, 64);
  assert.deepEqual(xof.subarray(0, 32), blake3(data));
  assert.deepEqual(blake3(data, 64), xof);
  assert.equal(blake3(data, 16).length, 16);
  assert.throws(() => blake3(data, 0), RangeError);
});
