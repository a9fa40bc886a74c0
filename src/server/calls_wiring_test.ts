/**
 * The call wiring as `serve` builds it: handlers on the router, TURN
 * credentials in Acks, and the STUN responder keyed with the ICE
 * credentials a call declared.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { createLedger } from "../ledger/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { bindingRequest, mappedAddress } from "../media/mod.ts";
import { Metrics } from "../metrics/mod.ts";
import { controlFrame, FrameType, parseControlJson } from "../proto/mod.ts";
import { type Peer, replyWhenDone } from "../router/mod.ts";
import { openRouterWorld } from "../router/testing.ts";
import { DEFAULT_CALL_SETTINGS, wireCalls } from "./calls_wiring.ts";

function peer(deviceId: string): Peer {
  return {
    deviceId,
    userId: `u-${deviceId}`,
    connectionId: `c-${deviceId}`,
    deliver: () => true,
    checkOfflineQueue() {},
    refreshPresence() {},
    close() {},
  };
}

async function stunAnswer(port: number, request: Uint8Array): Promise<Uint8Array | null> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 300);
      socket.on("message", (m) => {
        clearTimeout(timer);
        resolve(new Uint8Array(m));
      });
      socket.send(request, port, "127.0.0.1");
    });
  } finally {
    socket.close();
  }
}

Deno.test("calls wiring: TURN credentials in the offer's Ack; STUN keyed with the call's ICE password", async () => {
  const world = await openRouterWorld({ prefix: "commucat-calls-wiring-", instanceId: "i" });
  const { router, registry } = world;
  const metrics = new Metrics();
  const ledger = await createLedger({ mode: "null", logger: silentLogger });
  const wired = await wireCalls({
    router,
    registry,
    metrics,
    ledger,
    settings: {
      ...DEFAULT_CALL_SETTINGS,
      turn: [{ urls: ["turn:127.0.0.1:3478"], auth: { kind: "secret", secret: "s" } }],
      turnTtlSeconds: 600,
      stunBind: { hostname: "127.0.0.1", port: 0 },
    },
  });
  try {
    const alice = peer("alice");
    registry.add(alice);
    registry.add(peer("bob"));
    const join = { members: ["bob"] };
    await router.route(alice, controlFrame(FrameType.Join, 1, 1, join), join);
    const offer = {
      call_id: "w",
      from: "alice",
      to: ["bob"],
      media: { audio: { codec: "opus", bitrate: 16000, sample_rate: 48000, channels: 1 } },
      transport: {
        ice_credentials: { username_fragment: "srvU", password: "ice-password-0123456789" },
      },
    };
    const ack = await replyWhenDone(
      router.route(alice, controlFrame(FrameType.CallOffer, 1, 2, offer), offer),
    );
    const body = parseControlJson(ack!.payload) as { ice_servers: { username: string }[] };
    assert.match(body.ice_servers[0].username, /^\d+:srvU$/);
    const port = wired.stunPort!;
    const good = await stunAnswer(
      port,
      bindingRequest({ username: "srvU:peer", password: "ice-password-0123456789" }),
    );
    assert.equal(mappedAddress(good!)?.address, "127.0.0.1");
    assert.equal(
      await stunAnswer(port, bindingRequest({ username: "srvU:peer", password: "wrong" })),
      null,
    );
    const text = await metrics.registry.metrics();
    assert.match(text, /commucat_ice_binding_failures_total 1/);
    assert.match(text, /commucat_calls_active 1/);
  } finally {
    wired.close();
    await ledger.close();
    await world.close();
  }
});
