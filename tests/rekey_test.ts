/**
 * In-session rekey over real HTTPS (PROTOCOL.md §3, "In-session rekey"):
 * with a small `server.rekey_after_messages` both SDK sessions rekey several
 * times while messages flow both ways, none lost or reordered, on classical
 * and hybrid sessions alike; malformed or unsolicited rekey messages get a
 * `rekey` Error and the session goes on.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";
import { openRawSession } from "./helpers/raw.ts";
import { receiveTexts } from "./helpers/frames.ts";

const MESSAGES = 60;
const BATCH = 5;

for (const hybrid of [false, true]) {
  const kind = hybrid ? "hybrid (XKhfs)" : "classical (XK)";
  Deno.test(`rekey e2e: a ${kind} session rekeys several times mid-traffic; nothing lost or reordered`, async () => {
    const srv = await startTestServer({ rekeyAfterMessages: 8, rekeyAfterMs: 0 });
    try {
      const pin = hybrid ? { serverPqPublic: srv.server.noiseKey().pqSigning!.publicKey } : {};
      const aliceDevice = newDevice("alice");
      const bobDevice = newDevice("bob");
      const alice = await CommuCatClient.connect(connectOptions(srv, aliceDevice, pin));
      const bob = await CommuCatClient.connect(connectOptions(srv, bobDevice, pin));
      await befriend(srv, alice, bob);
      await alice.join(12, [bobDevice.deviceId]);
      const atBob = receiveTexts(bob, MESSAGES);
      const atAlice = receiveTexts(alice, MESSAGES);
      // Batches sent without waiting: frames are in flight while the keys switch.
      for (let i = 0; i < MESSAGES; i += BATCH) {
        const sends = [];
        for (let j = i; j < i + BATCH; j++) {
          sends.push(alice.send(12, `a${j}`), bob.send(12, `b${j}`));
        }
        await Promise.all(sends);
      }
      const expected = (p: string) => Array.from({ length: MESSAGES }, (_, i) => `${p}${i}`);
      assert.deepEqual(await atBob, expected("a"));
      assert.deepEqual(await atAlice, expected("b"));
      assert.ok(alice.rekeys >= 3, `alice rekeyed ${alice.rekeys} times`);
      assert.ok(bob.rekeys >= 3, `bob rekeyed ${bob.rekeys} times`);
      // Still usable after the last switch.
      await alice.send(12, "after");
      assert.deepEqual(await receiveTexts(bob, 1), ["after"]);
      await alice.closeGracefully();
      await bob.closeGracefully();
    } finally {
      await srv.stop();
    }
  });
}

Deno.test("rekey e2e: malformed or unsolicited rekey messages get a rekey Error; the session survives", async () => {
  const srv = await startTestServer();
  try {
    const device = newDevice("rekeybad");
    const client = await CommuCatClient.connect(connectOptions(srv, device));
    const cases: [unknown, RegExp][] = [
      [{ rekey: "bogus" }, /rekey must be "init", "reply" or "done"/],
      [{ rekey: "reply", noise: "%%" }, /not valid base64/],
      [{ rekey: "init", noise: "AAAA" }, /the server starts rekeys/],
      [
        { rekey: "reply", noise: "AAAA" },
        /no rekey is waiting for a reply \(replayed or unsolicited\)/,
      ],
    ];
    for (const [body, detail] of cases) {
      await assert.rejects(
        client.request(FrameType.KeyUpdate, 0, body),
        (error: unknown) =>
          error instanceof ServerError && error.code === "rekey" && detail.test(error.message),
      );
    }
    const ack = await client.request(FrameType.Presence, 0, { state: "online" });
    assert.equal(typeof ack.ack, "number");
    assert.equal(client.closed, false);
    await client.closeGracefully();
  } finally {
    await srv.stop();
  }
});

Deno.test('rekey e2e: a client without the "rekey" capability is never rekeyed', async () => {
  const srv = await startTestServer({ rekeyAfterMessages: 2, rekeyAfterMs: 0 });
  try {
    const session = await openRawSession(srv, newDevice("norekey"));
    // Every reply decrypts under the handshake's keys: no init ever comes.
    for (let sequence = 3; sequence < 10; sequence++) {
      session.sendControl(FrameType.Presence, 0, sequence, { state: "online" });
      const ack = await session.expect(FrameType.Ack, `the Ack of presence ${sequence}`);
      assert.equal(ack.ack, sequence);
    }
    session.sendControl(FrameType.KeyUpdate, 0, 10, { rekey: "reply", noise: "AAAA" });
    const error = await session.expect(FrameType.Error, "the rekey Error");
    assert.equal(error.error, "rekey");
    assert.match(String(error.detail), /this session does not rekey/);
    session.conn.close();
  } finally {
    await srv.stop();
  }
});
