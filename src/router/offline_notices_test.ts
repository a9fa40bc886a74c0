/**
 * Notices of new offline-queue rows: one presence look-up per write batch,
 * one bus message per holding instance in row order, capped; local peers
 * told directly; a holder that died leaves the rows for the next queue read.
 */
import assert from "node:assert/strict";
import type { OfflineEnvelope } from "../storage/mod.ts";
import { type Bus, type BusMessage, LocalBus, MAX_CARRIED_FRAME, type QueueNotice } from "./bus.ts";
import {
  MAX_NOTICE_FRAME_BYTES,
  MAX_NOTICE_ROWS,
  noticeChunks,
  noticeMessages,
  notifyHolders,
} from "./offline_notices.ts";
import { MemoryPresence } from "./presence.ts";
import { PeerRegistry } from "./registry.ts";
import type { Peer } from "./peer.ts";

/** A bus recording what is sent to which instance. */
function recordingBus(): Bus & { sent: { instance: string; message: BusMessage }[] } {
  const local = new LocalBus();
  const sent: { instance: string; message: BusMessage }[] = [];
  return Object.assign(local, {
    sent,
    send(instance: string, message: BusMessage) {
      sent.push({ instance, message });
      return Promise.resolve();
    },
  });
}

/** Presence counting its look-ups. */
class CountingPresence extends MemoryPresence {
  gets = 0;
  override getMany(ids: readonly string[]) {
    this.gets++;
    return super.getMany(ids);
  }
}

const row = (deviceId: string, n: number, size = 3): OfflineEnvelope => ({
  envelopeId: `env-${deviceId}-${n}`,
  deviceId,
  payload: new Uint8Array(size).fill(n),
  deliverAfter: new Date(0),
  expiresAt: new Date(8.64e15),
});

Deno.test("notices: one presence look-up, one bus message per holder with its rows in order", async () => {
  const presence = new CountingPresence();
  await presence.set("b1", "online", "inst-b", 60);
  await presence.set("b2", "online", "inst-b", 60);
  await presence.set("c1", "online", "inst-c", 60);
  await presence.set("here-but-gone", "online", "inst-a", 60); // this instance: nobody to tell
  const registry = new PeerRegistry();
  let looked = 0;
  registry.add({ deviceId: "local", checkOfflineQueue: () => looked++ } as unknown as Peer);
  const bus = recordingBus();
  const rows = [row("b1", 1), row("c1", 2), row("b2", 3), row("b1", 4), row("local", 5)];
  const devices = [...rows.map((r) => r.deviceId), "offline", "here-but-gone"];
  await notifyHolders({ registry, presence, bus, instanceId: "inst-a" }, devices, rows);
  assert.equal(presence.gets, 1, "one look-up for every remote recipient");
  assert.equal(looked, 1, "the local peer is told directly");
  const toB = bus.sent.filter((s) => s.instance === "inst-b");
  assert.equal(toB.length, 1);
  const message = toB[0].message as { kind: string; rows: QueueNotice[] };
  assert.equal(message.kind, "offline-queue-rows");
  assert.deepEqual(message.rows.map((r) => r.envelopeId), ["env-b1-1", "env-b2-3", "env-b1-4"]);
  assert.equal(message.rows[0].frame, "AQEB");
  // A single row keeps the single-notice form (what older instances read).
  assert.deepEqual(bus.sent.filter((s) => s.instance === "inst-c").map((s) => s.message), [
    { kind: "offline-queue", deviceId: "c1", envelopeId: "env-c1-2", frame: "AgIC" },
  ]);
  assert.equal(bus.sent.length, 2, "nothing for offline devices or this instance");
});

Deno.test("notices: big frames and devices without rows get plain notices; the batch is capped", async () => {
  const big = row("b1", 1, MAX_CARRIED_FRAME + 1);
  const presence = new MemoryPresence();
  await presence.set("b1", "online", "inst-b", 60);
  await presence.set("b2", "online", "inst-b", 60);
  const bus = recordingBus();
  await notifyHolders(
    { registry: new PeerRegistry(), presence, bus, instanceId: "inst-a" },
    ["b1", "b2"],
    [big],
  );
  assert.deepEqual(bus.sent.map((s) => s.message), [
    { kind: "offline-queue-rows", rows: [{ deviceId: "b1" }, { deviceId: "b2" }] },
  ]);

  const many: QueueNotice[] = Array.from({ length: MAX_NOTICE_ROWS + 1 }, (_, i) => ({
    deviceId: `d${i}`,
  }));
  assert.deepEqual(noticeChunks(many).map((c) => c.length), [MAX_NOTICE_ROWS, 1]);
  assert.deepEqual(noticeMessages(many).map((m) => m.kind), [
    "offline-queue-rows",
    "offline-queue",
  ]);
  assert.deepEqual(noticeMessages(many)[1], {
    kind: "offline-queue",
    deviceId: `d${MAX_NOTICE_ROWS}`,
  });
  const frame = "A".repeat(Math.ceil((MAX_NOTICE_FRAME_BYTES / 2) * 4 / 3 / 4) * 4);
  const heavy = [1, 2, 3].map((i) => ({ deviceId: "d", envelopeId: `e${i}`, frame }));
  const chunks = noticeChunks(heavy);
  assert.deepEqual(chunks.map((c) => c.map((n) => n.envelopeId)), [["e1"], ["e2"], ["e3"]]);
});

Deno.test("notices: presence or bus down loses only the notice", async () => {
  const presence = new MemoryPresence();
  presence.getMany = () => Promise.reject(new Error("redis down"));
  const bus = recordingBus();
  await notifyHolders(
    { registry: new PeerRegistry(), presence, bus, instanceId: "inst-a" },
    ["b1"],
    [row("b1", 1)],
  );
  assert.equal(bus.sent.length, 0);
  const up = new MemoryPresence();
  await up.set("b1", "online", "inst-b", 60);
  const failing = recordingBus();
  failing.send = () => Promise.reject(new Error("publish failed"));
  // Resolves (never rejects) although the publish failed.
  assert.equal(
    await notifyHolders(
      { registry: new PeerRegistry(), presence: up, bus: failing, instanceId: "inst-a" },
      ["b1"],
      [row("b1", 1)],
    ),
    undefined,
  );
});
