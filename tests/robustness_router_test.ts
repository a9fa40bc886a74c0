/**
 * Bounds and failure containment of the router's collaborators: the route
 * cache stays bounded whatever channel ids clients pick, and a throwing bus
 * handler rejects a promise instead of unwinding the sender's stack.
 */
import assert from "node:assert/strict";
import { FrameType } from "../src/proto/mod.ts";
import {
  LocalBus,
  MemoryPresence,
  OfflineQueue,
  PeerRegistry,
  RouteError,
  Router,
} from "../src/router/mod.ts";
import { openStore } from "../src/storage/mod.ts";

Deno.test("robustness: the route cache stays bounded for channels that do not exist", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-router-" });
  const store = await openStore({ backend: "sqlite", path: `${dir}/r.db` }, {
    migrate: true,
    createIfNew: true,
  });
  try {
    const registry = new PeerRegistry();
    const presence = new MemoryPresence();
    const bus = new LocalBus();
    const newId = (c: string) => `${c}:${crypto.randomUUID()}`;
    const router = new Router({
      store,
      registry,
      presence,
      access: { mayReach: () => Promise.resolve(true) },
      bus,
      offlineQueue: new OfflineQueue({
        store,
        registry,
        presence,
        bus,
        instanceId: "i1",
        ttlSeconds: 60,
        newId,
      }),
      instanceId: "i1",
      presenceTtlSeconds: 60,
      newId,
      maxCachedRoutes: 8,
    });
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
    await store.close();
    await Deno.remove(dir, { recursive: true });
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
