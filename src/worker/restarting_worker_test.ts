import assert from "node:assert/strict";
import { RestartingWorker } from "./mod.ts";

const url = new URL("./testdata/echo_worker.ts", import.meta.url);
const permissions: Deno.PermissionOptionsObject = {
  read: false,
  write: false,
  net: false,
  env: false,
  run: false,
  ffi: false,
  sys: false,
};

Deno.test("RestartingWorker: a Worker that never answers fails the request clearly, then is replaced", async () => {
  const worker = new RestartingWorker<{ value: number }>({
    url,
    permissions,
    encoder: "echo",
    worker: "the echo Worker",
    answerTimeoutMs: 5_000, // generous: the first request also loads the module
  });
  try {
    // Warm up: on a loaded machine the first load (and its type check under `deno test`) may
    // itself outlast the limit; that failure is the behaviour under test, so try again.
    let warm = false;
    for (let i = 0; i < 5 && !warm; i++) {
      warm = await worker.request({ value: 1 }).then((r) => r.value === 1, () => false);
    }
    assert.ok(warm, "the echo Worker never answered");
    const first = worker.generation;
    const restarts = worker.restarts;
    await assert.rejects(
      worker.request({ hang: true }),
      /the echo Worker did not answer within 5 s/,
    );
    assert.equal(worker.pending, 0);
    assert.equal(worker.restarts, restarts + 1);
    assert.equal((await worker.request({ value: 2 })).value, 2);
    assert.equal(worker.generation, first + 1);
  } finally {
    worker.shutdown();
  }
});
