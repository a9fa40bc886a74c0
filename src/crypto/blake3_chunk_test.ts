import assert from "node:assert/strict";
import { blake3 as nobleBlake3 } from "@noble/hashes/blake3.js";
import { BLAKE3_CHUNK_LEN, blake3Chunk } from "./blake3_chunk.ts";
import { toHex } from "./bytes.ts";

Deno.test("blake3Chunk: the official vector for the empty input", () => {
  assert.equal(
    toHex(blake3Chunk(new Uint8Array(0), 32)),
    "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
  );
});

Deno.test("blake3Chunk: equals noble for every input length of one chunk and output 1-64", () => {
  // The official test input pattern: byte i is i mod 251.
  const data = new Uint8Array(BLAKE3_CHUNK_LEN).map((_, i) => i % 251);
  for (let length = 0; length <= BLAKE3_CHUNK_LEN; length += length < 130 ? 1 : 17) {
    const input = data.subarray(0, length);
    for (const outLen of [1, 31, 32, 33, 64]) {
      assert.equal(
        toHex(blake3Chunk(input, outLen)),
        toHex(nobleBlake3(input, { dkLen: outLen })),
        `length ${length}, out ${outLen}`,
      );
    }
  }
  const full = data.subarray(0, BLAKE3_CHUNK_LEN);
  assert.equal(toHex(blake3Chunk(full, 64)), toHex(nobleBlake3(full, { dkLen: 64 })));
});

Deno.test("blake3Chunk: refuses more than one chunk or more than 64 bytes out", () => {
  assert.throws(() => blake3Chunk(new Uint8Array(BLAKE3_CHUNK_LEN + 1), 32), RangeError);
  assert.throws(() => blake3Chunk(new Uint8Array(1), 65), RangeError);
  assert.throws(() => blake3Chunk(new Uint8Array(1), 0), RangeError);
});
