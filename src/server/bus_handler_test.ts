/** The bus handler: batched offline-queue notices are taken in row order, with the queue read as fallback. */
import assert from "node:assert/strict";
import { PeerRegistry } from "../router/registry.ts";
import type { Peer } from "../router/peer.ts";
import type { Router } from "../router/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { busMessageHandler } from "./bus_handler.ts";

Deno.test("bus handler: offline-queue-rows delivers carried rows in order, else reads the queue", () => {
  const taken: string[] = [];
  let reads = 0;
  let caughtUp = true;
  const registry = new PeerRegistry();
  registry.add({
    deviceId: "d",
    connectionId: "c",
    checkOfflineQueue: () => reads++,
    takeQueued: (envelopeId: string) => {
      if (!caughtUp) return false;
      taken.push(envelopeId);
      return true;
    },
  } as unknown as Peer);
  const router = {
    stats: { busCarriedDelivered: 0, busQueueReads: 0 },
    offlineQueue: { carried: { storing: () => false } },
  } as unknown as Router;
  const handle = busMessageHandler({ instanceId: "i", registry, router, log: silentLogger });
  handle({
    kind: "offline-queue-rows",
    rows: [
      { deviceId: "d", envelopeId: "e1", frame: "AAEC" },
      { deviceId: "gone", envelopeId: "x", frame: "AAEC" }, // no longer here: nothing to do
      { deviceId: "d", envelopeId: "e2", frame: "AAEC" },
      { deviceId: "d" }, // a plain notice: read the queue
    ],
  });
  assert.deepEqual(taken, ["e1", "e2"]);
  assert.equal(reads, 1);
  assert.equal(router.stats.busCarriedDelivered, 2);
  // A device whose queue is not caught up reads it instead (order is the queue's).
  caughtUp = false;
  handle({
    kind: "offline-queue-rows",
    rows: [{ deviceId: "d", envelopeId: "e3", frame: "AAEC" }],
  });
  assert.equal(router.stats.busQueueReads, 2);
});
