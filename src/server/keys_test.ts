import assert from "node:assert/strict";
import { generateKeyPair } from "../crypto/mod.ts";
import type { Logger } from "../log/mod.ts";
import { NoiseKeyManager } from "../security/rotation/mod.ts";
import { openStore } from "../storage/mod.ts";
import { loadServerKeys, type ServerKeys } from "./keys.ts";

/** The `source` of the first-start "noise key stored" log line for `bootstrapKey`. */
async function loggedSource(bootstrapKey: ServerKeys["noise"]): Promise<unknown> {
  const lines: [string, Record<string, unknown> | undefined][] = [];
  const record = (message: string, properties?: Record<string, unknown>) =>
    void lines.push([message, properties]);
  const log: Logger = { debug: record, info: record, warn: record, error: record };
  const store = await openStore({ backend: "sqlite", path: ":memory:" }, { migrate: true });
  try {
    const policy = { intervalHours: 10, graceHours: 4, maxVersions: 3 };
    await new NoiseKeyManager({ store, policy, bootstrapKey, logger: log }).start();
  } finally {
    await store.close();
  }
  return lines.find(([message]) => message === "noise key stored")?.[1]?.source;
}

Deno.test("first start: a Noise key created in the data directory is logged as generated", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-keys-" });
  try {
    const fresh = await loadServerKeys({ dataDir, noiseKey: null, federationSeed: null });
    assert.equal(fresh.noise.source, "generated");
    assert.equal(await loggedSource(fresh.noise), "generated");
    // The file is reused on the next start (say, with a new database).
    const again = await loadServerKeys({ dataDir, noiseKey: null, federationSeed: null });
    assert.equal(again.noise.source, "data_dir");
    assert.deepEqual(again.noise.publicKey, fresh.noise.publicKey);
    assert.equal(await loggedSource(again.noise), "data_dir");
    // A key from the configuration says so.
    const configured = await loadServerKeys({
      dataDir,
      noiseKey: generateKeyPair(),
      federationSeed: null,
    });
    assert.equal(configured.noise.source, "configured");
    assert.equal(await loggedSource(configured.noise), "configured");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
