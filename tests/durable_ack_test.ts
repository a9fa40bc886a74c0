/**
 * The sender's Ack means the frame is durable (PROTOCOL.md §4 "Offline
 * queue"): frames acknowledged to the sender while the recipient is online
 * but not reading survive a SIGKILL of the server process (#19 §2: 770 such
 * messages were lost before).
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { befriend, partyOf } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { spawnServer } from "./helpers/process.ts";
import { openRawSession, within } from "./helpers/raw.ts";

Deno.test("process: frames acked while the recipient is online but not reading survive SIGKILL", async () => {
  const first = await spawnServer();
  const dataDir = first.dataDir;
  const aliceDevice = newDevice("alice");
  const bobDevice = newDevice("bob");
  const COUNT = 300;
  try {
    // Bob is connected and receives, but never acknowledges anything.
    const bob = await openRawSession(first, bobDevice);
    const alice = await CommuCatClient.connect(connectOptions(first, aliceDevice));
    await befriend(first, alice, partyOf(bob.ack));
    await alice.join(12, [bobDevice.deviceId]);
    // Pipelined, like a chatty client: every send is acknowledged before the kill.
    const acks = [];
    for (let i = 0; i < COUNT; i++) acks.push(alice.send(12, `live ${i}`));
    await within(Promise.all(acks), "every Ack");
    await first.kill();
    alice.close();
    bob.conn.close();

    const second = await spawnServer({ dataDir });
    try {
      const bob2 = await CommuCatClient.connect(connectOptions(second, bobDevice));
      for (let i = 0; i < COUNT; i++) {
        const frame = await within(bob2.next(), `message ${i} after the restart`);
        assert.equal(frame?.type, FrameType.Msg);
        assert.equal(fromUtf8(frame!.payload), `live ${i}`);
      }
      bob2.close();
    } finally {
      await second.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
