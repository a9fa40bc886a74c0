/**
 * Friends and friend requests through the REST API, and how friendship
 * drives routing (FriendsPolicy), against an in-process server.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { api, assertProblem, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

interface Person {
  device: TestDevice;
  client: CommuCatClient;
}

async function withPeople(
  n: number,
  fn: (srv: TestServer, people: Person[]) => Promise<void>,
): Promise<void> {
  const srv = await startTestServer();
  const people: Person[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const device = newDevice(`p${i}`);
      people.push({ device, client: await CommuCatClient.connect(connectOptions(srv, device)) });
    }
    await fn(srv, people);
  } finally {
    for (const p of people) p.client.close();
    await srv.stop();
  }
}

const forbidden = (e: unknown) => e instanceof ServerError && e.code === "forbidden";

Deno.test("friend request → accept → friends both ways; routing allowed, stranger forbidden", async () => {
  await withPeople(3, async (srv, [alice, bob, carol]) => {
    const a = alice.client;
    const b = bob.client;
    const c = carol.client;
    // Strangers cannot put each other into a route.
    await assert.rejects(a.join(50, [bob.device.deviceId]), forbidden);

    // By handle; the message is kept.
    const sent = await api(srv, "POST", `/api/friends/requests/${bob.device.handle}`, {
      as: a,
      json: { message: "hi bob" },
    });
    assert.equal(sent.status, 201, sent.text);
    const request = sent.body!.request as Record<string, unknown>;
    assert.equal(request.from_user_id, a.session.userId);
    assert.equal(request.to_user_id, b.session.userId);
    assert.equal(request.status, "pending");
    assert.equal(request.message, "hi bob");
    assert.deepEqual(sent.body!.to_user, {
      user_id: b.session.userId,
      handle: bob.device.handle,
      display_name: null,
      avatar_url: null,
    });
    assertProblem(
      await api(srv, "POST", `/api/friends/requests/${b.session.userId}`, { as: a }),
      409,
      "friend request already exists",
    );

    const bobs = await api(srv, "GET", "/api/friends/requests", { as: b });
    assert.deepEqual((bobs.body!.incoming as { id: string }[]).map((r) => r.id), [request.id]);
    assert.deepEqual(bobs.body!.outgoing, []);
    const alices = await api(srv, "GET", "/api/friends/requests", { as: a });
    assert.deepEqual(alices.body!.incoming, []);
    assert.deepEqual((alices.body!.outgoing as { id: string }[]).map((r) => r.id), [request.id]);
    // With handles, so a person sees who asked and whom they asked.
    assert.equal(
      (bobs.body!.incoming as { from_handle: string }[])[0].from_handle,
      alice.device.handle,
    );
    assert.equal(
      (alices.body!.outgoing as { to_handle: string }[])[0].to_handle,
      bob.device.handle,
    );

    const accepted = await api(
      srv,
      "POST",
      `/api/friends/requests/${a.session.userId}/accept`,
      { as: b },
    );
    assert.equal(accepted.status, 200, accepted.text);
    assert.equal((accepted.body!.request as Record<string, unknown>).status, "accepted");
    assert.equal((accepted.body!.from_user as Record<string, unknown>).user_id, a.session.userId);
    assertProblem(
      await api(srv, "POST", `/api/friends/requests/${a.session.userId}/accept`, { as: b }),
      400,
      "request is not pending",
    );
    assert.deepEqual(
      (await api(srv, "GET", "/api/friends/requests", { as: b })).body!.incoming,
      [],
      "incoming lists pending requests only",
    );

    // Both lists name the other, with their devices.
    const aliceFriends = await api(srv, "GET", "/api/friends", { as: a });
    // Each entry names the friend's handle too (what a person recognises).
    assert.deepEqual(aliceFriends.body!.friends, [{
      user_id: b.session.userId,
      handle: bob.device.handle,
    }]);
    const bobDevices = (aliceFriends.body!.devices as Record<string, Record<string, unknown>[]>)[
      b.session.userId
    ];
    assert.equal(bobDevices.length, 1);
    assert.equal(bobDevices[0].device_id, bob.device.deviceId);
    assert.equal(bobDevices[0].status, "active");
    assert.match(String(bobDevices[0].created_at), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(typeof bobDevices[0].last_rotated_at, "string");
    assert.deepEqual(
      (await api(srv, "GET", "/api/friends", { as: b })).body!.friends,
      [{ user_id: a.session.userId, handle: alice.device.handle }],
    );
    const devices = await api(srv, "GET", `/api/friends/${bob.device.handle}/devices`, { as: a });
    assert.equal(devices.body!.friend, b.session.userId);
    assert.equal((devices.body!.devices as unknown[]).length, 1);
    assertProblem(
      await api(srv, "GET", `/api/friends/${c.session.userId}/devices`, { as: a }),
      404,
      "user is not in your friends list",
    );

    // Friends route to each other; the stranger stays out.
    await a.join(51, [bob.device.deviceId]);
    await a.send(51, "hello friend");
    assert.equal(fromUtf8((await within(b.next(), "a→b"))!.payload), "hello friend");
    await assert.rejects(a.join(52, [carol.device.deviceId]), forbidden);
    await assert.rejects(c.join(53, [alice.device.deviceId]), forbidden);
  });
});

Deno.test("friends: a one-sided list is not consent; both lists (or a group) are", async () => {
  await withPeople(2, async (srv, [alice, carol]) => {
    const a = alice.client;
    const c = carol.client;
    const put = await api(srv, "PUT", "/api/friends", {
      as: c,
      json: { friends: [{ user_id: a.session.userId, alias: "  Al  " }] },
    });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.body!.friends, [{
      user_id: a.session.userId,
      handle: alice.device.handle,
      alias: "Al",
    }]);
    await assert.rejects(c.join(60, [alice.device.deviceId]), forbidden);
    await api(srv, "PUT", "/api/friends", {
      as: a,
      json: { friends: [{ user_id: c.session.userId }] },
    });
    await c.join(60, [alice.device.deviceId]);

    // Removing the friend on one side ends it.
    const removed = await api(srv, "DELETE", `/api/friends/${a.session.userId}`, { as: c });
    assert.equal(removed.status, 204);
    assert.equal(removed.text, "");
    assertProblem(
      await api(srv, "DELETE", `/api/friends/${a.session.userId}`, { as: c }),
      404,
      "user is not in your friends list",
    );
    assert.deepEqual((await api(srv, "GET", "/api/friends", { as: c })).body!.friends, []);
    assert.deepEqual(
      (await api(srv, "GET", "/api/friends", { as: a })).body!.friends,
      [{ user_id: c.session.userId, handle: carol.device.handle }],
      "only the caller's list changes",
    );
    await assert.rejects(c.join(61, [alice.device.deviceId]), forbidden);
  });
});

Deno.test("friends: devices sharing a group may reach each other", async () => {
  await withPeople(3, async (srv, [owner, member, other]) => {
    await befriend(srv, owner.client, member.client);
    const created = await owner.client.request(FrameType.GroupCreate, 70, {
      members: [member.device.deviceId],
    });
    assert.equal(typeof created.group_id, "string");
    // member and owner are friends anyway; member and other are not, and share no group.
    await assert.rejects(member.client.join(71, [other.device.deviceId]), forbidden);
    await befriend(srv, owner.client, other.client);
    await owner.client.request(FrameType.GroupInvite, 70, {
      group_id: created.group_id,
      device: other.device.deviceId,
    });
    // Now member and other share the group: no friendship needed.
    await member.client.join(72, [other.device.deviceId]);
  });
});

Deno.test("friends PUT: validation texts", async () => {
  await withPeople(1, async (srv, [alice]) => {
    const put = (json: unknown) => api(srv, "PUT", "/api/friends", { as: alice.client, json });
    assertProblem(await put([]), 400, "payload must be an object with a friends array");
    assertProblem(await put({}), 400, "friends must be an array");
    assertProblem(await put({ friends: "x" }), 400, "friends must be an array");
    assertProblem(await put({ friends: [1] }), 400, "friend entry must be an object");
    assertProblem(
      await put({ friends: [{ handle: null }] }),
      400,
      "friend entry must specify user_id; handle is not supported",
    );
    assertProblem(
      await put({ friends: [{ user_id: "u", nickname: "x" }] }),
      400,
      "unexpected field in friend entry: nickname",
    );
    assertProblem(
      await put({ friends: [{ user_id: "  " }] }),
      400,
      "friend entry must specify user_id",
    );
    assertProblem(
      await put({ friends: [{ user_id: "u", alias: 5 }] }),
      400,
      "alias must be a string or null",
    );
    assertProblem(
      await put({ friends: [{ user_id: "u" }, { user_id: " u " }] }),
      400,
      "duplicate friend user_id: u",
    );
    const many = Array.from({ length: 513 }, (_, i) => ({ user_id: `u${i}` }));
    assertProblem(await put({ friends: many }), 400, "too many friends");
    assertProblem(
      await api(srv, "PUT", "/api/friends", {
        as: alice.client,
        body: "{",
        headers: { "content-type": "application/json" },
      }),
      400,
      "invalid JSON payload",
    );
    const ok = await put({
      friends: [{ user_id: "someone", alias: "" }, { user_id: "other", alias: null }],
    });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.body!.friends, [{ user_id: "someone" }, { user_id: "other" }]);
    assert.deepEqual(ok.body!.devices, { someone: [], other: [] });
    assertProblem(await api(srv, "POST", "/api/friends", { as: alice.client }), 405);
  });
});

Deno.test("friend requests: errors, reject, resend, unknown federation domain", async () => {
  await withPeople(2, async (srv, [alice, bob]) => {
    const a = alice.client;
    const b = bob.client;
    const send = (id: string, as = a) => api(srv, "POST", `/api/friends/requests/${id}`, { as });
    assertProblem(await send(a.session.userId), 400, "cannot send a friend request to yourself");
    assertProblem(await send("nobody-here"), 404, "user not found");
    assertProblem(await send("bob@other.example"), 400, "unknown domain: other.example");
    assertProblem(await send("%E0%A4%A"), 400, "invalid percent-encoding in path");
    assertProblem(
      await api(srv, "POST", `/api/friends/requests/${b.session.userId}`, {
        as: a,
        json: { message: 5 },
      }),
      400,
    );
    // handle@<our domain> is local.
    assert.equal((await send(`${bob.device.handle}@${srv.domain}`)).status, 201);
    const rejected = await api(
      srv,
      "POST",
      `/api/friends/requests/${alice.device.handle}/reject`,
      { as: b },
    );
    assert.equal(rejected.status, 200, rejected.text);
    assert.equal((rejected.body!.request as Record<string, unknown>).status, "rejected");
    assert.deepEqual((await api(srv, "GET", "/api/friends", { as: b })).body!.friends, []);
    assertProblem(
      await api(srv, "POST", `/api/friends/requests/${b.session.userId}/accept`, { as: a }),
      404,
      "friend request not found",
    );
    // A rejected request may be sent again: it becomes pending with the new message.
    const again = await api(srv, "POST", `/api/friends/requests/${b.session.userId}`, {
      as: a,
      json: { message: "second try" },
    });
    assert.equal(again.status, 201);
    assert.equal((again.body!.request as Record<string, unknown>).status, "pending");
    assert.equal((again.body!.request as Record<string, unknown>).message, "second try");
    assertProblem(
      await api(srv, "GET", "/api/friends/requests"),
      401,
      "missing Authorization header",
    );
  });
});
