/**
 * `closeGracefully()` acknowledges what arrived before leaving, so nothing is
 * delivered twice; an abrupt `close()` may cause a redelivery (at-least-once).
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import type { ConnectMode } from "../src/transport/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

for (const mode of ["binary", "websocket"] as ConnectMode[]) {
  Deno.test(`graceful close over ${mode}: a received message is not delivered again`, async () => {
    const srv = await startTestServer();
    try {
      const alice = newDevice("alice");
      const bob = newDevice("bob");
      const a = await CommuCatClient.connect(connectOptions(srv, alice, { mode }));
      const b = await CommuCatClient.connect(connectOptions(srv, bob, { mode }));
      await befriend(srv, a, b);
      await a.join(12, [bob.deviceId]);
      await a.send(12, "once");
      assert.equal(fromUtf8((await b.next())!.payload), "once");
      await b.closeGracefully();
      await a.send(12, "twice?");
      const again = await CommuCatClient.connect(connectOptions(srv, bob, { mode }));
      assert.equal(fromUtf8((await again.next())!.payload), "twice?", "the first one was acked");
      again.close();
      a.close();
    } finally {
      await srv.stop();
    }
  });
}
