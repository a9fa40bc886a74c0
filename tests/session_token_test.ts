/**
 * The session id is the REST bearer token: it stays valid while its device
 * stays connected (upstream let it die `keepalive` seconds after the
 * handshake), and expires once the device is gone for longer than that.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { api, assertProblem } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a connected device keeps a valid REST token past the session TTL; a gone one loses it", async () => {
  const srv = await startTestServer({ keepaliveSeconds: 2 });
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice()));
    await sleep(4_500); // more than twice the TTL, connected all along
    assert.equal((await api(srv, "GET", "/api/devices", { as: a })).status, 200);
    a.close();
    await a.finished;
    await sleep(4_500); // disconnected for more than the TTL
    assertProblem(
      await api(srv, "GET", "/api/devices", { as: a }),
      401,
      "session expired, please reconnect",
    );
  } finally {
    await srv.stop();
  }
});
