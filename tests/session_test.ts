/**
 * In-process end-to-end tests of the handshake and routing through real
 * TLS connections (all four modes, XK and IK).
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import type { ConnectMode } from "../src/transport/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { until } from "./helpers/wait.ts";

const MODES: ConnectMode[] = ["binary", "sse", "long-poll", "websocket"];

for (const mode of MODES) {
  for (const pattern of ["XK", "IK"] as const) {
    Deno.test(`two devices exchange messages over ${mode} with ${pattern}`, async () => {
      const srv = await startTestServer();
      try {
        const alice = newDevice("alice");
        const bob = newDevice("bob");
        const a = await CommuCatClient.connect(connectOptions(srv, alice, { mode, pattern }));
        const b = await CommuCatClient.connect(connectOptions(srv, bob, { mode, pattern }));
        assert.equal(a.session.ack.handshake, "ok");
        assert.match(a.session.sessionId, /^[0-9a-f]{64}$/);
        await befriend(srv, a, b);
        await a.join(7, [bob.deviceId]);
        const ack = await a.send(7, "hello bob");
        assert.equal(typeof ack.ack, "number");
        const got = await b.next();
        assert.ok(got);
        assert.equal(got.type, FrameType.Msg);
        assert.equal(got.channel, 7);
        assert.equal(fromUtf8(got.payload), "hello bob");
        await b.send(7, "hi alice");
        const reply = await a.next();
        assert.equal(fromUtf8(reply!.payload), "hi alice");
        a.close();
        b.close();
      } finally {
        await srv.stop();
      }
    });
  }
}

Deno.test("offline delivery after reconnect, in order, nothing acked is delivered again", async () => {
  const srv = await startTestServer();
  try {
    const alice = newDevice("alice");
    const bob = newDevice("bob");
    const b0 = await CommuCatClient.connect(connectOptions(srv, bob));
    b0.close();
    const a = await CommuCatClient.connect(connectOptions(srv, alice));
    await befriend(srv, a, b0); // b0's session token outlives its connection
    await a.join(3, [bob.deviceId]);
    for (let i = 0; i < 300; i++) await a.send(3, `m${i}`);
    const b = await CommuCatClient.connect(connectOptions(srv, bob));
    for (let i = 0; i < 300; i++) {
      const frame = await b.next();
      assert.equal(fromUtf8(frame!.payload), `m${i}`);
    }
    b.close();
    await b.finished;
    // The acks left with the close; the server removes what they cover once it has read them
    // and its store write ran: wait for that (a fixed sleep lost the race on a loaded machine).
    const queued = () => srv.server.store.countOfflineQueue(bob.deviceId, new Date());
    await until(async () => (await queued()) === 0, "the acked messages to leave bob's queue");
    const b2 = await CommuCatClient.connect(connectOptions(srv, bob));
    await b2.join(99, []);
    await b2.send(99, "probe");
    assert.equal(await queued(), 0, "the reconnect put nothing back");
    b2.close();
    a.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("routing errors come back as Error frames and keep the connection", async () => {
  const srv = await startTestServer();
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice()));
    await assert.rejects(
      a.send(42, "nobody"),
      (e: unknown) => e instanceof ServerError && e.code === "no_route",
    );
    await assert.rejects(
      a.join(5, ["no-such-device"]),
      (e: unknown) => e instanceof ServerError && e.code === "forbidden",
    );
    await a.join(5, []);
    await a.send(5, "still alive");
    a.close();
  } finally {
    await srv.stop();
  }
});
