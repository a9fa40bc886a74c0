import assert from "node:assert/strict";
import { formatVectorResult, formatVectorSummary, runVector, runVectorFile } from "./vectors.ts";
import type { Backend } from "./primitives.ts";

/**
 * The shared vectors live outside the repository (`../shared`, beside the clone in CI); they come
 * from public repositories and are not copied in. On a clean clone the tests are registered as
 * ignored, under a name that says why, and a warning is printed; the npm cross-implementation test
 * (`interop_test.ts`) still checks our Noise against someone else's.
 */
const VECTORS_URL = new URL("../../../../shared/test-vectors/noise-vectors.json", import.meta.url);
const EXPECTED_VECTORS = 36;
const SKIP_REASON = "skipped: ../shared/test-vectors absent";

function vectorsPresent(): boolean {
  try {
    return Deno.statSync(VECTORS_URL).isFile;
  } catch {
    return false; // absent, or not readable under the granted permissions
  }
}

const present = vectorsPresent();
if (!present) {
  console.warn(
    `WARNING: Noise shared-vector tests ${SKIP_REASON} (${VECTORS_URL.pathname} not found); ` +
      "CI runs them with ../shared beside the clone.",
  );
}

async function loadVectors(): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(VECTORS_URL));
}

for (const backend of ["native", "noble"] as Backend[]) {
  const title = `all ${EXPECTED_VECTORS} shared Noise vectors pass on the ${backend} backend`;
  Deno.test({
    name: present ? title : `${title} (${SKIP_REASON})`,
    ignore: !present,
    fn: async () => {
      const summary = runVectorFile(await loadVectors(), backend);
      const failures = summary.results.filter((r) => r.status !== "ok").map(formatVectorResult);
      assert.deepEqual(failures, []);
      assert.equal(summary.passed, EXPECTED_VECTORS);
      assert.equal(formatVectorSummary(summary), `${EXPECTED_VECTORS} passed, 0 failed, 0 skipped`);
    },
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
