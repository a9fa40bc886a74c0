/**
 * `commucat serve` with exactly the environment permission of `deno task
 * serve` against PostgreSQL and Redis: the npm clients (postgres.js, ioredis)
 * must load and connect, so storage, presence and bus are all up.
 */
import assert from "node:assert/strict";
import { SERVE_ALLOW_ENV, spawnServer } from "./helpers/process.ts";

const pgDsn = Deno.env.get("COMMUCAT_TEST_PG_DSN");
const redisUrl = Deno.env.get("COMMUCAT_TEST_REDIS_URL");
const available = pgDsn !== undefined && redisUrl !== undefined;
if (!available) {
  console.warn(
    "serve_permissions_test: SKIPPED — set COMMUCAT_TEST_PG_DSN and COMMUCAT_TEST_REDIS_URL",
  );
}

Deno.test({
  name: `serve with the task's ${SERVE_ALLOW_ENV} runs PostgreSQL + Redis` +
    (available ? "" : " (skipped: COMMUCAT_TEST_PG_DSN / COMMUCAT_TEST_REDIS_URL unset)"),
  ignore: !available,
  async fn() {
    const server = await spawnServer({
      env: {
        COMMUCAT_STORAGE_BACKEND: "postgres",
        COMMUCAT_PG_DSN: pgDsn!,
        COMMUCAT_PRESENCE_BACKEND: "redis",
        COMMUCAT_REDIS_URL: redisUrl!,
      },
    });
    const http = Deno.createHttpClient({ caCerts: [server.certificatePem] });
    try {
      // The Redis clients connect in the background: wait for readiness (bounded).
      let checks: Record<string, string> = {};
      for (let i = 0; i < 50; i++) {
        const ready = await fetch(`${server.url}/readyz`, { client: http });
        checks = (await ready.json()).checks;
        if (ready.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(checks, { storage: "ok", presence: "ok", bus: "ok" });
      const health = await (await fetch(`${server.url}/healthz`, { client: http })).json();
      assert.equal(health.storage, "postgres");
      assert.doesNotMatch(server.stdout(), /could not load/);
    } finally {
      http.close();
      assert.equal(await server.stop(), 0);
    }
  },
});
