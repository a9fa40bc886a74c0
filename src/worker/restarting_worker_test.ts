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
    answerTimeoutMs: 2_000,
    startTimeoutMs: 60_000, // the first request also loads (and type-checks) the module
  });
  try {
    assert.equal((await worker.request({ value: 1 })).value, 1);
    const first = worker.generation;
    const restarts = worker.restarts;
    await assert.rejects(
      worker.request({ hang: true }),
      /the echo Worker did not answer within 2 s/,
    );
    assert.equal(worker.pending, 0);
    assert.equal(worker.restarts, restarts + 1);
    assert.equal((await worker.request({ value: 2 })).value, 2);
    assert.equal(worker.generation, first + 1);
  } finally {
    worker.shutdown();
  }
});

Deno.test("RestartingWorker: a Worker that never starts answering fails on the start limit", async () => {
  const worker = new RestartingWorker<{ value: number }>({
    url,
    permissions,
    encoder: "echo",
    worker: "the echo Worker",
    answerTimeoutMs: 200,
    startTimeoutMs: 300,
  });
  try {
    // Its first request hangs: the Worker never gave an answer, so the start limit applies.
    await assert.rejects(
      worker.request({ hang: true }),
      /the echo Worker did not start within 0.3 s/,
    );
    assert.equal(worker.restarts, 1);
  } finally {
    worker.shutdown();
  }
});
