/**
 * Warms the type-check cache for the Worker modules before the test run.
 *
 * A Worker started under `deno test` type-checks its module graph first, under a cache key that
 * `deno check` does not fill (the Worker lib differs); on a cold cache and a busy machine that
 * check alone used up a test's 120 s Worker start limit. Starting each Worker once here, under
 * `deno test` too, leaves the result cached. Each Worker is sent a request it answers with an
 * error, which proves its module was checked and ran.
 */
const WORKERS = [
  "src/media/transcode/opus_worker.ts",
  "src/media/transcode/vpx_worker.ts",
  "src/fec/worker.ts",
];
const root = new URL("../", import.meta.url);

for (const path of WORKERS) {
  Deno.test({
    name: `warm ${path}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const worker = new Worker(new URL(path, root).href, { type: "module" });
      try {
        const reply = await new Promise<unknown>((resolve, reject) => {
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(`${path}: ${event.message}`));
          };
          worker.postMessage({ seq: 1, op: "encode", id: "warm-up" });
        });
        if (typeof reply !== "object" || reply === null || !("error" in reply)) {
          throw new Error(`${path}: expected an error reply, got ${JSON.stringify(reply)}`);
        }
      } finally {
        worker.terminate();
      }
    },
  });
}
