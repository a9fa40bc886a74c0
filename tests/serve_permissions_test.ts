/**
 * `commucat serve` with exactly the environment permission of `deno task
 * serve` against PostgreSQL and Redis: the npm clients (postgres.js, ioredis)
 * must load and connect, so storage, presence and bus are all up. And every
 * copy of that flag (compile task, systemd unit, the operations guide's
 * commands) is the same.
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
      // The shared database may be a migration behind (a CI machine keeps it between runs; this
      // test may run before any test that migrates): the operator's own way to start on it.
      args: ["--migrate"],
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

Deno.test("the compile task, the systemd unit and the guide grant the serve task's --allow-env", async () => {
  const root = new URL("../", import.meta.url);
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).tasks;
  const unit = await Deno.readTextFile(new URL("deploy/commucat.service", root));
  // Copies of the flag drift (the unit lacked PG* and DEBUG: PostgreSQL and Redis failed there).
  const flags = (text: string) => text.match(/--allow-env=\S+/g) ?? [];
  assert.deepEqual(flags(String(tasks.compile)), [SERVE_ALLOW_ENV], "deno.json compile task");
  assert.deepEqual(flags(unit), [SERVE_ALLOW_ENV], "deploy/commucat.service");
  const guide = await Deno.readTextFile(new URL("docs/OPERATIONS.md", root));
  // The guide's commands spell it out; its table abbreviates it ("…").
  const spelled = flags(guide).filter((f) => !f.includes("…"));
  assert.ok(spelled.length > 0, "the guide's commands name the flag");
  for (const flag of spelled) assert.equal(flag, SERVE_ALLOW_ENV, "docs/OPERATIONS.md");
});
