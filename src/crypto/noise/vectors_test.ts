import assert from "node:assert/strict";
import { formatVectorResult, formatVectorSummary, runVector, runVectorFile } from "./vectors.ts";
import type { Backend } from "./primitives.ts";

const VECTORS_URL = new URL("../../../../shared/test-vectors/noise-vectors.json", import.meta.url);
const EXPECTED_VECTORS = 36;

async function loadVectors(): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(VECTORS_URL);
  } catch (err) {
    throw new Error(
      `Noise test vectors are required but could not be read from ${VECTORS_URL.pathname}: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  return JSON.parse(text);
}

for (const backend of ["native", "noble"] as Backend[]) {
  Deno.test(`all ${EXPECTED_VECTORS} shared Noise vectors pass on the ${backend} backend`, async () => {
    const summary = runVectorFile(await loadVectors(), backend);
    const failures = summary.results.filter((r) => r.status !== "ok").map(formatVectorResult);
    assert.deepEqual(failures, []);
    assert.equal(summary.passed, EXPECTED_VECTORS);
    assert.equal(formatVectorSummary(summary), `${EXPECTED_VECTORS} passed, 0 failed, 0 skipped`);
  });
}

Deno.test("a vector with an unsupported protocol is skipped with the reason", () => {
  const result = runVector({ protocol_name: "Noise_XX_448_AESGCM_SHA512", messages: [] }, 7);
  assert.equal(result.status, "skip");
  assert.match(result.reason ?? "", /448/);
  assert.equal(formatVectorResult(result).startsWith("skip Noise_XX_448_AESGCM_SHA512 #7: "), true);
});

Deno.test("a vector whose ciphertext is wrong fails, and `name` is accepted for the protocol", () => {
  const vector = {
    name: "Noise_NN_25519_ChaChaPoly_BLAKE2s",
    init_ephemeral: "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    resp_ephemeral: "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    messages: [{ payload: "", ciphertext: "00".repeat(32) }],
  };
  const result = runVector(vector, 0);
  assert.equal(result.status, "fail");
  assert.match(
    formatVectorResult(result),
    /^FAIL Noise_NN_25519_ChaChaPoly_BLAKE2s #0: .*message 0/,
  );
});

Deno.test("a file without a vectors list is rejected", () => {
  assert.throws(() => runVectorFile({ nope: [] }), /vectors/);
});
