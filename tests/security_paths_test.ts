/**
 * Security regressions around request paths: the server's dispatch and rate
 * limits and the REST router must agree on what a path is.
 */
import assert from "node:assert/strict";
import { api } from "./helpers/api.ts";
import { startTestServer } from "./helpers/inprocess.ts";

const SLOW = { windowMs: 60_000, penaltyMs: 60_000 };
const OPEN = { burst: 1_000_000, windowMs: 1_000, penaltyMs: 0 };

Deno.test("security: percent-encoded spellings of the claim path do not escape the pairing limit", async () => {
  const srv = await startTestServer({
    rateLimits: { http: OPEN, connect: OPEN, pairing: { burst: 1, ...SLOW } },
  });
  try {
    const claim = (path: string) => api(srv, "POST", path, { json: { pair_code: "AAAA-AAAA" } });
    const first = await claim("/api/pair/claim");
    assert.equal(first.body?.detail, "pairing code not found", "the one claim of the budget");
    for (
      const path of [
        "/api/pair/claim",
        "/api/pair/%63laim",
        "/api/pairing/%63laim",
        "/%61pi/pair/claim",
        "/api/p%61ir/claim",
        "/api/%2e/pair/claim",
      ]
    ) {
      const response = await claim(path);
      assert.notEqual(
        response.body?.detail,
        "pairing code not found",
        `${path} reached the claim handler past the pairing limit`,
      );
      assert.ok(response.status === 429 || response.status === 404, `${path}: ${response.text}`);
    }
  } finally {
    await srv.stop();
  }
});
