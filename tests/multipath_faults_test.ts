/**
 * Multipath sessions over bad paths (issue #14 "Verification"): paths go
 * through an in-process loopback proxy that drops and reorders WebSocket
 * messages or cuts a connection mid-stream. 10,000 messages each way must
 * reach the application exactly once, in order, none lost.
 */
import assert from "node:assert/strict";
import { CommuCatClient, type PathTarget } from "../src/client/mod.ts";
import { raptorqCodec } from "../src/multipath/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { type LossyProxy, startLossyProxy } from "./helpers/lossy_proxy.ts";
import { within } from "./helpers/raw.ts";
import { receiveTexts } from "./helpers/frames.ts";

const MESSAGES = 10_000;

/** A send whose failure the test reports through what it receives (no unhandled rejection). */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * Alice (multipath: a clean SSE path plus `extra`) and Bob (one direct path)
 * exchange {@link MESSAGES} messages each way on one channel.
 */
async function scenario(
  extra: (h2cPort: number) => { paths: PathTarget[]; proxies: LossyProxy[] },
  fec: boolean,
  check: (proxies: LossyProxy[], alice: CommuCatClient) => void,
): Promise<void> {
  const srv = await startTestServer({ h2c: { hostname: "127.0.0.1", port: 0 } });
  const port = srv.server.h2cAddr!.port;
  const plain = `http://127.0.0.1:${port}`;
  const { paths, proxies } = extra(port);
  const codec = fec ? raptorqCodec("inprocess") : undefined;
  const aliceDevice = newDevice("alice");
  const bobDevice = newDevice("bob");
  let alice: CommuCatClient | undefined;
  let bob: CommuCatClient | undefined;
  try {
    alice = await within(
      CommuCatClient.connect(
        connectOptions(srv, aliceDevice, { url: plain, mode: "sse", paths, fec: codec }),
      ),
      "alice",
    );
    bob = await within(CommuCatClient.connect(connectOptions(srv, bobDevice)), "bob");
    await within(alice.multipath!.waitForPaths(1 + paths.length), "every path up");
    await within(befriend(srv, alice, bob), "friends");
    await within(alice.join(9, [bobDevice.deviceId]), "join");
    const sent = Array.from({ length: MESSAGES }, (_, i) => `a${i}`);
    const back = Array.from({ length: MESSAGES }, (_, i) => `b${i}`);
    const gotByBob = receiveTexts(bob, MESSAGES);
    const gotByAlice = receiveTexts(alice, MESSAGES);
    // Both directions at once, in bursts of 250 (each waits for the previous burst's Acks,
    // as an application keeping a window would), so the cut lands mid-stream.
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < MESSAGES; i += 250) {
      const burst = [
        ...sent.slice(i, i + 250).map((t) => quiet(alice!.send(9, t))),
        ...back.slice(i, i + 250).map((t) => quiet(bob!.send(9, t))),
      ];
      acks.push(...burst);
      await within(Promise.all(burst), `the Acks of burst ${i / 250}`, 60_000);
    }
    quiet(gotByBob);
    quiet(gotByAlice);
    assert.deepEqual(await within(gotByBob, "bob receives everything", 120_000), sent);
    assert.deepEqual(await within(gotByAlice, "alice receives everything", 120_000), back);
    await within(Promise.all(acks), "every send acknowledged", 60_000);
    check(proxies, alice);
    assert.ok(!alice.closed && !bob.closed);
  } finally {
    alice?.close();
    bob?.close();
    codec?.close();
    await Promise.all(proxies.map((p) => p.close()));
    await srv.stop();
  }
}

Deno.test("multipath faults: 3 paths, 20% loss on one, another cut mid-stream: 10,000 each way, once, in order", async () => {
  await scenario(
    (port) => {
      const lossy = startLossyProxy(port, { dropRate: 0.2, reorderRate: 0.05, seed: 3 });
      const cutting = startLossyProxy(port, { cutFirstAfterBytes: 150_000 });
      return {
        paths: [{ mode: "websocket", url: lossy.url }, { mode: "websocket", url: cutting.url }],
        proxies: [lossy, cutting],
      };
    },
    true,
    ([lossy, cutting], alice) => {
      assert.ok(lossy.dropped > 0, "the lossy path dropped messages");
      assert.equal(cutting.cuts >= 1, true, "the other path was cut");
      const stats = alice.multipath!.stats;
      assert.ok(stats.retransmitted > 0 || stats.fecRecovered > 0);
      // The cut path came back.
      assert.ok(alice.paths!.some((p) => p.attaches >= 2), JSON.stringify(alice.paths));
    },
  );
});

Deno.test("multipath faults: 2 paths (duplicate), one cut mid-stream: 10,000 each way, once, in order", async () => {
  await scenario(
    (port) => {
      const cutting = startLossyProxy(port, { cutFirstAfterBytes: 150_000 });
      return { paths: [{ mode: "websocket", url: cutting.url }], proxies: [cutting] };
    },
    false,
    ([cutting]) => {
      assert.equal(cutting.cuts >= 1, true, "the path was cut");
    },
  );
});
