/**
 * Bounds and failure containment of the router's collaborators: the route
 * cache stays bounded whatever channel ids clients pick, a throwing bus
 * handler rejects a promise instead of unwinding the sender's stack, and the
 * offline queue is bounded per recipient and per sender.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { LocalBus, RouteError } from "../src/router/mod.ts";
import { openRouterWorld } from "../src/router/testing.ts";
import { api } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";

Deno.test("robustness: the route cache stays bounded for channels that do not exist", async () => {
  const world = await openRouterWorld({ prefix: "commucat-router-", maxCachedRoutes: 8 });
  try {
    const { router } = world;
    const sender = { deviceId: "d1", userId: "u1", connectionId: "c1" };
    for (let channel = 1; channel <= 50; channel++) {
      const frame = { type: FrameType.Msg, channel, sequence: channel, payload: new Uint8Array(1) };
      await assert.rejects(
        Promise.resolve().then(() => router.route(sender, frame, null)),
        (e: unknown) => e instanceof RouteError && e.code === "no_route",
      );
    }
    assert.ok(router.cachedRoutes <= 8, `cached ${router.cachedRoutes} routes`);
  } finally {
    await world.close();
  }
});

Deno.test("robustness: a throwing local bus handler rejects the send, not the caller", async () => {
  const bus = new LocalBus();
  await bus.subscribe("i1", () => {
    throw new Error("handler bug");
  });
  const sent = bus.send("i1", { kind: "offline-queue", deviceId: "d1" });
  await assert.rejects(sent, /handler bug/);
  await assert.rejects(bus.broadcast({ kind: "offline-queue", deviceId: "d1" }), /handler bug/);
});

/** Pairs a new device for the user of `first` and leaves it offline; its device id. */
async function pairOfflineDevice(srv: TestServer, first: CommuCatClient): Promise<string> {
  const code = (await api(srv, "POST", "/api/pair", { as: first })).body!.pair_code;
  const claim = (await api(srv, "POST", "/api/pair/claim", { json: { pair_code: code } })).body!;
  return String(claim.device_id);
}

Deno.test("robustness: a flood into an offline queue is bounded per recipient and per sender (#19 §2)", async () => {
  const MiB = 1024 * 1024;
  const srv = await startTestServer({
    offlineQueueQuota: {
      recipientFrames: 1_000,
      recipientBytes: 2 * MiB,
      senderFrames: 1_000,
      senderBytes: 3 * MiB,
    },
  });
  try {
    const alice = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    // The recipient is the sender's own paired device: no victim needed to fill the disk.
    const own = await pairOfflineDevice(srv, alice);
    const other = await pairOfflineDevice(srv, alice);
    await alice.join(70, [own]);
    await alice.join(71, [other]);
    const chunk = new Uint8Array(60_000);
    const flood = async (channel: number): Promise<{ acked: number; refusal: ServerError }> => {
      for (let acked = 0; acked < 200; acked++) {
        try {
          await alice.send(channel, chunk);
        } catch (error) {
          if (error instanceof ServerError) return { acked, refusal: error };
          throw error;
        }
      }
      throw new Error("200 × 60 KB were all queued: no bound");
    };
    const first = await flood(70);
    assert.equal(first.refusal.code, "queue_full");
    assert.match(first.refusal.message, new RegExp(own));
    const held = await srv.server.store.offlineQueueUsage([own], "", new Date());
    assert.ok(held.recipients.get(own)!.bytes <= 2 * MiB, "per-recipient bytes bounded");
    assert.equal(held.recipients.get(own)!.frames, first.acked, "every acked frame is queued");
    // Another recipient has room, but the sender's own total is bounded too.
    const second = await flood(71);
    assert.equal(second.refusal.code, "queue_full");
    assert.match(second.refusal.message, /you have \d+ frames/);
    assert.ok((first.acked + second.acked) * 60_000 <= 3 * MiB, "per-sender bytes bounded");
    // Refused frames leave the session usable.
    assert.equal((await alice.request(FrameType.Presence, 0, {})).ack !== undefined, true);
    alice.close();
  } finally {
    await srv.stop();
  }
});
