/**
 * Federation end to end: two real server processes of different domains
 * (a.test, b.test) on loopback, each with its own SQLite store, trusting
 * each other's self-signed certificates (`federation.ca_file`) and keys
 * (`federation.peers`, keys pre-generated from `<data_dir>/federation.seed`).
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromUtf8, toHex } from "../src/crypto/mod.ts";
import {
  encodeSignedEvent,
  type FederationEvent,
  formatRfc3339Nanos,
  signEvent,
  signFriendRequest,
} from "../src/federation/mod.ts";
import { encodeFrame, FrameType } from "../src/proto/mod.ts";
import { nextOfType } from "./helpers/frames.ts";
import { api } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import type { ServerProcess } from "./helpers/process.ts";
import { federationSite, startFederated } from "./helpers/federation.ts";

/** POSTs a raw body to a federation endpoint of `server`. */
async function post(server: ServerProcess, path: string, body: string) {
  const client = Deno.createHttpClient({ caCerts: [server.certificatePem] });
  try {
    const response = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      client,
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text === "" ? null : JSON.parse(text),
      type: response.headers.get("content-type"),
    };
  } finally {
    client.close();
  }
}

function now(): string {
  return formatRfc3339Nanos(BigInt(Date.now()) * 1_000_000n);
}

Deno.test("federation: two domains — friend request + acceptance, live, offline, peer down, forged/replayed/tampered/unknown rejected", async () => {
  const a = await federationSite("a.test", "fed");
  const b = await federationSite("b.test", "fed");
  const serverA = await startFederated(a, b);
  let serverB = await startFederated(b, a);
  const alice: TestDevice = newDevice("alice");
  const bob: TestDevice = newDevice("bob");
  const clients: CommuCatClient[] = [];
  const connect = async (server: ServerProcess, device: TestDevice) => {
    const c = await CommuCatClient.connect(connectOptions(server, device));
    clients.push(c);
    return c;
  };
  try {
    const ca = await connect(serverA, alice);
    let cb = await connect(serverB, bob);

    // Federated friend request from alice@a.test to bob@b.test, accepted on B.
    const sent = await api(serverA, "POST", `/api/friends/requests/${bob.handle}@b.test`, {
      as: ca,
      json: { message: "hi from a" },
    });
    assert.equal(sent.status, 202, sent.text);
    assert.equal(
      (sent.body?.request as Record<string, unknown>).to_user_id,
      `${bob.handle}@b.test`,
    );
    const notice = JSON.parse(fromUtf8((await nextOfType(cb, FrameType.GroupEvent)).payload));
    assert.equal(notice.type, "friend_request");
    assert.equal(notice.federated, true);
    assert.equal(notice.from, `${alice.handle}@a.test`);
    assert.equal(notice.message, "hi from a");
    assert.equal(notice.target_device, bob.deviceId);
    const incoming = await api(serverB, "GET", "/api/friends/requests", { as: cb });
    const [req] = incoming.body?.incoming as Record<string, unknown>[];
    assert.equal(req.from_user_id, `${alice.handle}@a.test`);
    // Before acceptance, alice cannot route to bob.
    await assert.rejects(ca.join(500, [`${bob.deviceId}@b.test`]));
    const accepted = await api(
      serverB,
      "POST",
      `/api/friends/requests/${alice.handle}@a.test/accept`,
      { as: cb },
    );
    assert.equal(accepted.status, 200, accepted.text);
    const ackNotice = JSON.parse(fromUtf8((await nextOfType(ca, FrameType.GroupEvent)).payload));
    assert.equal(ackNotice.type, "friend_request_accepted");
    assert.equal(ackNotice.from, `${bob.handle}@b.test`);
    const outgoing = await api(serverA, "GET", "/api/friends/requests", { as: ca });
    assert.equal((outgoing.body?.outgoing as Record<string, unknown>[])[0].status, "accepted");

    // Live both ways.
    await ca.join(501, [`${bob.deviceId}@b.test`]);
    await ca.send(501, "hello bob");
    assert.equal(fromUtf8((await nextOfType(cb, FrameType.Msg)).payload), "hello bob");
    await cb.join(502, [`${alice.deviceId}@a.test`]);
    await cb.send(502, "hello alice");
    assert.equal(fromUtf8((await nextOfType(ca, FrameType.Msg)).payload), "hello alice");

    // Offline: bob's queue on B keeps it.
    cb.close();
    await ca.send(501, "while you were away");
    await new Promise((r) => setTimeout(r, 1500));
    cb = await connect(serverB, bob);
    assert.equal(fromUtf8((await nextOfType(cb, FrameType.Msg)).payload), "while you were away");

    // B down: A's outbox keeps the event and retries until B is back.
    cb.close();
    assert.equal(await serverB.stop(), 0);
    await ca.send(501, "sent while b was down");
    await new Promise((r) => setTimeout(r, 2000));
    serverB = await startFederated(b, a);
    cb = await connect(serverB, bob);
    // At-least-once: "while you were away" may come again if bob's delivery ack
    // did not reach B before that connection was cut.
    let text: string;
    do text = fromUtf8((await nextOfType(cb, FrameType.Msg)).payload); while (
      text === "while you were away"
    );
    assert.equal(text, "sent while b was down");

    // Hand-made events against B.
    const relayPayload = (text: string, senderUser = `${alice.handle}@a.test`) => ({
      channel: 501,
      payload: toHex(
        encodeFrame({
          type: FrameType.Msg,
          channel: 501,
          sequence: 1,
          payload: new TextEncoder().encode(text),
        }),
      ),
      sender: `${alice.deviceId}@a.test`,
      sender_user: senderUser,
      sequence: 1,
      target: `${bob.deviceId}@b.test`,
    });
    const event = (overrides: Partial<FederationEvent> = {}): FederationEvent => ({
      event_id: crypto.randomUUID(),
      origin: "a.test",
      created_at: now(),
      scope: "b.test",
      payload: relayPayload("hand-made"),
      ...overrides,
    });
    const good = encodeSignedEvent(signEvent(event(), a.seed));
    let r = await post(serverB, "/federation/events", good);
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body, { status: "accepted" });
    assert.equal(fromUtf8((await nextOfType(cb, FrameType.Msg)).payload), "hand-made");
    r = await post(serverB, "/federation/events", good);
    assert.equal(r.status, 200, "replay");
    assert.deepEqual(r.body, { status: "duplicate" });

    const refused: [string, string, number, string][] = [
      [
        "forged (wrong key)",
        encodeSignedEvent(signEvent(event(), crypto.getRandomValues(new Uint8Array(32)))),
        403,
        "InvalidSignature",
      ],
      [
        "tampered payload",
        good.replace(
          "hand-made".split("").map((c) => c.charCodeAt(0).toString(16)).join(""),
          "0000",
        ),
        403,
        "InvalidSignature",
      ],
      [
        "tampered id",
        good.replace(/"event_id":"[^"]+"/, `"event_id":"${crypto.randomUUID()}"`),
        403,
        "InvalidSignature",
      ],
      [
        "unknown peer",
        encodeSignedEvent(signEvent(event({ origin: "c.test" }), a.seed)),
        403,
        "UnknownPeer",
      ],
      [
        "stale",
        encodeSignedEvent(
          signEvent(
            event({ created_at: formatRfc3339Nanos(BigInt(Date.now() - 3_600_000) * 1_000_000n) }),
            a.seed,
          ),
        ),
        403,
        "StaleEvent",
      ],
      [
        "future",
        encodeSignedEvent(
          signEvent(
            event({ created_at: formatRfc3339Nanos(BigInt(Date.now() + 3_600_000) * 1_000_000n) }),
            a.seed,
          ),
        ),
        403,
        "StaleEvent",
      ],
      [
        "other scope",
        encodeSignedEvent(signEvent(event({ scope: "c.test" }), a.seed)),
        403,
        "InvalidScope",
      ],
      [
        "not friends",
        encodeSignedEvent(
          signEvent(event({ payload: relayPayload("x", "mallory@a.test") }), a.seed),
        ),
        403,
        "NotFriends",
      ],
      [
        "unknown device",
        encodeSignedEvent(
          signEvent(event({ payload: { ...relayPayload("x"), target: "nobody@b.test" } }), a.seed),
        ),
        404,
        "UnknownDevice",
      ],
      [
        "foreign target",
        encodeSignedEvent(
          signEvent(
            event({ payload: { ...relayPayload("x"), target: `${bob.deviceId}@c.test` } }),
            a.seed,
          ),
        ),
        400,
        "InvalidTarget",
      ],
      [
        "bad frame",
        encodeSignedEvent(
          signEvent(event({ payload: { ...relayPayload("x"), payload: "ff" } }), a.seed),
        ),
        400,
        "InvalidFrame",
      ],
      ["bad json", "{", 400, "InvalidRequest"],
      ["empty", "", 400, "InvalidRequest"],
    ];
    for (const [what, body, status, title] of refused) {
      const got = await post(serverB, "/federation/events", body);
      assert.equal(got.status, status, `${what}: ${JSON.stringify(got.body)}`);
      assert.equal(got.body?.title, title, what);
      assert.equal(got.type, "application/problem+json", what);
    }

    // Friend requests: forged signature and unknown origin refused.
    const fr = signFriendRequest({
      request_id: crypto.randomUUID(),
      from: "eve@a.test",
      to: `${bob.handle}@b.test`,
      message: "",
      timestamp: now(),
    }, crypto.getRandomValues(new Uint8Array(32)));
    r = await post(serverB, "/federation/friend-request", JSON.stringify(fr));
    assert.equal(r.status, 403);
    assert.equal(r.body?.title, "InvalidSignature");
    r = await post(
      serverB,
      "/federation/friend-request",
      JSON.stringify({ ...fr, from: "eve@c.test" }),
    );
    assert.equal(r.status, 403);
    assert.equal(r.body?.title, "UnknownPeer");
  } finally {
    for (const c of clients) c.close();
    await serverA.stop().catch(() => {});
    await serverB.stop().catch(() => {});
  }
});
