import assert from "node:assert/strict";
import { openStore } from "../../storage/mod.ts";
import { NoiseKeyManager, startSecretRotation } from "./mod.ts";

Deno.test("the rotation job ticks every manager, logs failures and stops cleanly", async () => {
  const store = await openStore({ backend: "sqlite", path: ":memory:" }, { migrate: true });
  let t = Date.UTC(2025, 0, 1);
  const noise = new NoiseKeyManager({
    store,
    policy: { intervalHours: 1, graceHours: 1, maxVersions: 2 },
    now: () => new Date(t),
  });
  await noise.start();
  const errors: unknown[] = [];
  const logger = {
    debug() {},
    info() {},
    warn() {},
    error: (_m: string, p?: Record<string, unknown>) => void errors.push(p),
  };
  const broken = { tick: () => Promise.reject(new Error("store down")) };
  const job = startSecretRotation({ broken, noise }, { intervalMs: 3_600_000, logger });
  try {
    t += 3_600_000;
    await job.runOnce();
    assert.equal(noise.newest().version, 2, "a failing manager does not stop the others");
    assert.deepEqual(errors, [{ secret: "broken", error: "store down" }]);
  } finally {
    await job.stop();
    await store.close();
  }
});
