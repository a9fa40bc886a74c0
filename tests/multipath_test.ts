/**
 * Multipath sessions end to end (PROTOCOL.md "Multipath"): a client attaches
 * more `/connect` paths to its session, traffic flows both ways over all of
 * them, and what each side gets is exactly what the other sent, in order.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { raptorqCodec } from "../src/multipath/mod.ts";
import { api, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";
import { until } from "./helpers/wait.ts";
import { receiveTexts } from "./helpers/frames.ts";

for (const fec of [false, true]) {
  Deno.test(`multipath: three paths (binary + websocket + sse)${fec ? " with RaptorQ" : ""}, both directions, in order, once`, async () => {
    // RaptorQ from 2 KiB (`raptorq`): under `auto` only turns of 32 KiB or more are encoded.
    const srv = await startTestServer({
      adminToken: "mp-admin-token",
      ...(fec ? { multipath: { policy: "raptorq" } } : {}),
    });
    const codec = fec ? raptorqCodec("inprocess") : undefined;
    const aliceDevice = newDevice("alice");
    const bobDevice = newDevice("bob");
    let alice: CommuCatClient | undefined;
    let bob: CommuCatClient | undefined;
    try {
      alice = await within(
        CommuCatClient.connect(
          connectOptions(srv, aliceDevice, {
            mode: "binary",
            paths: ["websocket", "sse"],
            fec: codec,
          }),
        ),
        "alice",
      );
      bob = await within(CommuCatClient.connect(connectOptions(srv, bobDevice)), "bob");
      await within(alice.multipath!.waitForPaths(3), "three paths");
      assert.deepEqual(alice.paths!.map((p) => `${p.mode}:${p.state}`), [
        "binary:up",
        "websocket:up",
        "sse:up",
      ]);
      assert.equal(bob.paths, null);
      await within(befriend(srv, alice, bob), "friends");
      await within(alice.join(7, [bobDevice.deviceId]), "join");
      const sent = Array.from({ length: 300 }, (_, i) => `a${i}`);
      const acks = sent.map((t) => alice!.send(7, t));
      assert.deepEqual(await within(receiveTexts(bob, sent.length), "bob receives"), sent);
      await within(Promise.all(acks), "acks");
      if (fec) {
        // The server starts its RaptorQ Worker on its first FEC object; a cold start (the
        // module loaded and type-checked) can take seconds. Meanwhile the units wait for their
        // encoding and the retransmission timer resends them as plain copies, so none would
        // come out of RaptorQ. One object first, then wait until the server has encoded one.
        const warm = `warm ${"x".repeat(2500)}`;
        const warmAck = bob.send(7, warm);
        assert.deepEqual(await within(receiveTexts(alice, 1), "the warm-up message"), [warm]);
        await within(warmAck, "the warm-up message's ack");
        await until(
          async () => {
            const s = await api(srv, "GET", "/api/security-stats", { as: "mp-admin-token" });
            return (s.body?.fec_packets as number) > 0;
          },
          "the server's first FEC object",
          { ms: 30_000 },
        );
      }
      const recoveredBefore = alice.multipath!.stats.fecRecovered;
      // Larger messages this way: batches over the smallest FEC object (2 KiB) use RaptorQ.
      const back = Array.from({ length: 300 }, (_, i) => `b${i} ${"x".repeat(2500)}`);
      // Awaited before the close: a send still unacknowledged when bob closes rejects
      // ("connection closed"), and a send nobody awaits would fail the test as uncaught.
      const backAcks = back.map((t) => bob!.send(7, t));
      assert.deepEqual(await within(receiveTexts(alice, back.length), "alice receives"), back);
      await within(Promise.all(backAcks), "bob's acks");
      // Units are duplicated or spread as RaptorQ packets: each path carried some.
      for (const p of alice.paths!) assert.ok(p.path!.unitsIn > 0, `${p.mode} carried units`);
      if (fec) {
        const recovered = alice.multipath!.stats.fecRecovered - recoveredBefore;
        assert.ok(recovered > 0, "units came out of RaptorQ");
      } else assert.ok(alice.multipath!.stats.duplicates > 0, "duplicates were dropped");
      // The server counts the session and, toward a RaptorQ client, the packets it encoded.
      const stats = await api(srv, "GET", "/api/security-stats", { as: "mp-admin-token" });
      assert.equal(stats.body?.multipath_sessions, 1);
      assert.equal(stats.body?.average_paths, 3);
      const fecPackets = stats.body?.fec_packets as number;
      if (fec) assert.ok(fecPackets > 0, `fec_packets ${fecPackets}`);
      else assert.equal(fecPackets, 0);
      const metrics = await api(srv, "GET", "/metrics", { as: "mp-admin-token" });
      const text = metrics.text ?? "";
      assert.match(text, /^commucat_multipath_sessions_total 1$/m);
      assert.match(text, /^commucat_multipath_paths 3$/m);
      assert.match(text, new RegExp(`^commucat_security_fec_packets_total ${fecPackets}$`, "m"));
      await within(alice.closeGracefully(), "graceful close");
      assert.ok(alice.closed);
    } finally {
      alice?.close();
      bob?.close();
      codec?.close();
      await srv.stop();
    }
  });
}
