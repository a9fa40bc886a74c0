import assert from "node:assert/strict";
import type { ServerConnection } from "../session/mod.ts";
import { shutdownSequence } from "./shutdown.ts";

/** A promise that never settles: a worker, a connection or a listener that never finishes. */
const never = () => new Promise<void>(() => {});

/**
 * Fails if `promise` is still pending after `ms`: a bound far above the grace, so a sequence
 * that waits for what never finishes fails here instead of hanging the test run.
 */
async function settlesWithin(promise: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} never finished`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("shutdown: nothing that never finishes holds it past the grace; every step still runs", async () => {
  const steps: string[] = [];
  const connection = {
    close: (reason: string) => steps.push(`connection closed: ${reason}`),
    done: never(),
  } as unknown as ServerConnection;
  const state = { stopping: false, startedAt: 0 };
  const stop = shutdownSequence({
    state,
    workers: [
      // Stuck (the federation outbox's last tick on a backend that does not answer)...
      () => (steps.push("stuck worker told"), never()),
      // ...and one that fails: neither keeps the others from being told, nor the rest.
      () => {
        steps.push("failing worker told");
        throw new Error("already stopped");
      },
      () => void steps.push("worker stopped"),
    ],
    connections: new Set([connection]),
    afterDrain: () => steps.push("after drain"),
    listeners: [{
      shutdown: () => (steps.push("listener shutdown"), never()),
      close: () => void steps.push("listener cut"),
    }],
    backends: [
      () => never(),
      () => (steps.push("store closed"), Promise.resolve()),
    ],
    graceMs: 30,
  });
  const first = stop();
  assert.equal(stop(), first, "later calls return the same run");
  assert.equal(state.stopping, true);
  await settlesWithin(first, 10_000, "the shutdown sequence");
  assert.deepEqual(steps, [
    "stuck worker told",
    "failing worker told",
    "worker stopped",
    "connection closed: shutdown",
    "after drain",
    "listener shutdown",
    "listener cut",
    "store closed",
  ]);
});

Deno.test("shutdown: what finishes at once goes through every step without waiting for the grace", async () => {
  const steps: string[] = [];
  let finished = false;
  const stop = shutdownSequence({
    state: { stopping: false, startedAt: 0 },
    workers: [() => Promise.resolve(void steps.push("worker stopped"))],
    connections: new Set([{
      close: () => steps.push("connection closed"),
      done: Promise.resolve(),
    } as unknown as ServerConnection]),
    listeners: [{
      shutdown: () => (steps.push("listener drained"), Promise.resolve()),
      close: () => void steps.push("listener cut"),
    }],
    backends: [() => (steps.push("store closed"), Promise.resolve())],
    // A grace no test would wait for: finishing proves no step waited for it.
    graceMs: 3_600_000,
  });
  await settlesWithin(stop().then(() => void (finished = true)), 10_000, "the shutdown sequence");
  assert.ok(finished);
  assert.deepEqual(steps, [
    "worker stopped",
    "connection closed",
    "listener drained",
    "listener cut",
    "store closed",
  ]);
});
