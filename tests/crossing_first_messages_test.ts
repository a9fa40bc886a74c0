/**
 * Two members of a new 1:1 route send their first messages at the same
 * time (issue 18): each first message is routed after a reachability read,
 * and each side's delivery Ack for the other's message must not wait behind
 * its own message's durable copy. Before the fix both sessions held their
 * inbound frames — the delivery Acks included — until their own copies
 * were durable, so both Acks waited for the durable-copy sweep to write both
 * copies. Asserted by causality, not time: with a window far longer than the
 * test, both Acks arrive with the sweep not having written a single copy,
 * and both copies acknowledged inside the window.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

Deno.test("crossing first messages on a new route: each Ack comes from the other's delivery ack, not the sweep", async () => {
  // The longest window the configuration allows: the sweep cannot run while the test does.
  const srv = await startTestServer({ durableCopyDelayMs: 5_000 });
  try {
    const alice = newDevice("alice");
    const bob = newDevice("bob");
    const a = await CommuCatClient.connect(connectOptions(srv, alice));
    const b = await CommuCatClient.connect(connectOptions(srv, bob));
    await befriend(srv, a, b);
    await a.join(12, [bob.deviceId]);
    const window = srv.server.router.offlineQueue.windowStats;
    const writtenAtAck: number[] = [];
    const sent = [a.send(12, "hi bob"), b.send(12, "hi alice")].map((p) =>
      p.then(() => writtenAtAck.push(window.released))
    );
    assert.equal(fromUtf8((await a.next())!.payload), "hi alice");
    assert.equal(fromUtf8((await b.next())!.payload), "hi bob");
    await Promise.all(sent);
    assert.deepEqual(writtenAtAck, [0, 0], "no copy written by the sweep before either Ack");
    assert.deepEqual({ ...window }, { acknowledgedInWindow: 2, released: 0 });
    await a.closeGracefully();
    await b.closeGracefully();
  } finally {
    await srv.stop();
  }
});
