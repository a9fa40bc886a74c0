/**
 * Security regressions of sessions: the session id is the REST bearer
 * token, so nothing an outsider can know may determine it.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { generateId, nowUnixNanos } from "../src/crypto/mod.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

Deno.test("security: a session token is not derivable from the device id and the connect time", async () => {
  const srv = await startTestServer();
  try {
    const device = newDevice();
    // The server runs in this process: bracket the id clock (ms and per-process counter)
    // around the handshake, as an attacker who sees the time and other ids could.
    const before = nowUnixNanos();
    const client = await CommuCatClient.connect(connectOptions(srv, device));
    const after = nowUnixNanos();
    try {
      const token = client.session.sessionId;
      assert.match(token, /^[0-9a-f]{64}$/, "still 64 hex chars on the wire");
      const [ms0, ms1] = [before / 1_000_000n, after / 1_000_000n];
      const [c0, c1] = [before % 1_000_000n, after % 1_000_000n];
      assert.ok(c1 >= c0 && c1 - c0 < 10_000n && ms1 - ms0 < 10_000n, "a small bracket");
      for (let ms = ms0; ms <= ms1; ms++) {
        for (let c = c0; c <= c1; c++) {
          const guess = generateId(`session:${device.deviceId}`, ms * 1_000_000n + c);
          assert.notEqual(guess, token, "the session token was guessed from public inputs");
        }
      }
    } finally {
      client.close();
      await client.finished;
    }
  } finally {
    await srv.stop();
  }
});
