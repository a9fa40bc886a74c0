/**
 * Security regressions of friends: what a one-sided friends list may see,
 * how many friend requests a user may have pending, and that an ended
 * friendship stops delivery on the routes the two shared.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { MAX_PENDING_FRIEND_REQUESTS } from "../src/api/mod.ts";
import { api, assertProblem, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";

async function withClients(
  n: number,
  fn: (srv: TestServer, clients: CommuCatClient[]) => Promise<void>,
): Promise<void> {
  const srv = await startTestServer();
  const clients: CommuCatClient[] = [];
  try {
    for (let i = 0; i < n; i++) {
      clients.push(await CommuCatClient.connect(connectOptions(srv, newDevice(`u${i}`))));
    }
    await fn(srv, clients);
  } finally {
    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.finished));
    await srv.stop();
  }
}

Deno.test("security: a stranger put into one's own friends list does not expose their devices", async () => {
  await withClients(3, async (srv, [alice, mallory, bob]) => {
    const put = await api(srv, "PUT", "/api/friends", {
      as: mallory,
      json: { friends: [{ user_id: alice.session.userId }] },
    });
    assert.equal(put.status, 200, put.text);
    const devices = (r: { body: Record<string, unknown> | null }) =>
      (r.body!.devices as Record<string, unknown[]>)[alice.session.userId];
    assert.deepEqual(devices(put), [], "PUT response lists no devices of a non-friend");
    const listed = await api(srv, "GET", "/api/friends", { as: mallory });
    assert.deepEqual(devices(listed), [], "GET lists no devices of a non-friend");
    assertProblem(
      await api(srv, "GET", `/api/friends/${alice.session.userId}/devices`, { as: mallory }),
      404,
      "user is not in your friends list",
    );
    // A real (mutual) friendship still shows them.
    await befriend(srv, bob, alice);
    const bobs = await api(srv, "GET", "/api/friends", { as: bob });
    assert.equal(devices(bobs).length, 1);
    const direct = await api(srv, "GET", `/api/friends/${alice.session.userId}/devices`, {
      as: bob,
    });
    assert.equal((direct.body!.devices as unknown[]).length, 1, direct.text);
  });
});

Deno.test("security: pending outgoing friend requests are capped per user", async () => {
  await withClients(1, async (srv, [mallory]) => {
    const now = new Date();
    const send = (id: string) =>
      api(srv, "POST", `/api/friends/requests/${id}`, { as: mallory, json: { message: "hi" } });
    for (let i = 0; i <= MAX_PENDING_FRIEND_REQUESTS; i++) {
      const userId = `spam-target-${i}`;
      await srv.server.store.createUser({
        userId,
        handle: userId,
        displayName: null,
        avatarUrl: null,
        domain: srv.domain,
        createdAt: now,
        updatedAt: now,
      });
      const sent = await send(userId);
      if (i < MAX_PENDING_FRIEND_REQUESTS) assert.equal(sent.status, 201, sent.text);
      else assertProblem(sent, 429, "too many pending friend requests");
    }
    // Also towards other domains (refused before any federation work).
    assertProblem(await send("x@peer.example"), 429, "too many pending friend requests");
  });
});

Deno.test("security: unfriending stops an existing route delivering between the two, both ways (#19 §4)", async () => {
  const srv = await startTestServer();
  try {
    const aliceDevice = newDevice("alice");
    const bobDevice = newDevice("bob");
    const alice = await CommuCatClient.connect(connectOptions(srv, aliceDevice));
    const bob = await CommuCatClient.connect(connectOptions(srv, bobDevice));
    await befriend(srv, alice, bob);
    await alice.join(90, [bobDevice.deviceId]);
    await alice.send(90, "while friends"); // the route is cached and its members checked
    assert.equal(fromUtf8((await bob.next())!.payload), "while friends");
    const queued = (device: string) =>
      srv.server.store.offlineQueueUsage([device], "", new Date()).then((u) =>
        u.recipients.get(device)?.frames ?? 0
      );

    // Alice removes Bob; Bob is offline, so a delivered frame would wait in his queue.
    await bob.closeGracefully();
    const removed = await api(srv, "DELETE", `/api/friends/${bob.session.userId}`, { as: alice });
    assert.equal(removed.status, 204);
    await alice.send(90, "after unfriending"); // acknowledged: the route itself is unchanged
    assert.equal(await queued(bobDevice.deviceId), 0, "nothing reaches the ex-friend");

    // …and nothing comes back the other way either (Bob's list still names Alice).
    await alice.closeGracefully();
    const bob2 = await CommuCatClient.connect(connectOptions(srv, bobDevice));
    await bob2.send(90, "from the ex-friend");
    assert.equal(await queued(aliceDevice.deviceId), 0, "nothing reaches the unfriender");
    bob2.close();
    await bob2.finished;
  } finally {
    await srv.stop();
  }
});
