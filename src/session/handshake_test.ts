/**
 * The server handshake with fakes (no server process, no database): the Noise
 * exchange driven by the session pattern table, and the identity and
 * certificate policy.
 */
import assert from "node:assert/strict";
import { certificateToJson, issueCertificate, publicFromSeed, toHex } from "../crypto/mod.ts";
import { HandshakeError } from "./errors.ts";
import { ServerHandshake } from "./handshake.ts";
import { ReplayCache } from "./replay.ts";
import { fakeHello, fakeServer, runHandshake } from "./_handshake_fakes.ts";

const seed = () => crypto.getRandomValues(new Uint8Array(32));

function rejectsWith(reason: string, detail?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    if (detail) assert.match(error.message, detail);
    return true;
  };
}

for (const pattern of ["XK", "IK"]) {
  Deno.test(`handshake (fakes): ${pattern} self-registers a new device in one commit`, async () => {
    const { deps, store, clock, serverStatic } = fakeServer();
    const client = fakeHello(serverStatic, {
      pattern,
      deviceId: `dev-${pattern}`,
      seed: seed(),
      user: { handle: `user_${pattern}` },
      now: clock.now,
    });
    const { established, ack, reply } = await runHandshake(new ServerHandshake(deps), client);
    assert.equal(reply.server_static, toHex(serverStatic));
    assert.equal(established.deviceId, `dev-${pattern}`);
    assert.equal(established.action, "register");
    assert.equal(ack.handshake, "ok");
    assert.equal(ack.user.handle, `user_${pattern.toLowerCase()}`, "stored in normal form");
    assert.equal(store.commits.length, 1, "every write in one transaction");
    const writes = store.commits[0];
    assert.ok(writes.createUser && writes.insertDevice && writes.keyEvent);
    assert.equal(writes.session.sessionId, established.sessionId);
  });
}

Deno.test("handshake (fakes): IK ends after the server's Auth, XK waits for message 3", async () => {
  const { deps, clock, serverStatic } = fakeServer();
  for (const [pattern, awaiting] of [["IK", false], ["XK", true]] as const) {
    const server = new ServerHandshake(deps);
    const client = fakeHello(serverStatic, {
      pattern,
      deviceId: `d-${pattern}`,
      seed: seed(),
      user: { handle: `h_${pattern}` },
      now: clock.now,
    });
    await server.hello(client.frame);
    assert.equal(server.awaitingAuth, awaiting, pattern);
  }
});

Deno.test("handshake (fakes): a pattern missing from the table is an invalid Hello", async () => {
  const { deps, serverStatic } = fakeServer();
  const client = fakeHello(serverStatic, {
    deviceId: "d1",
    seed: seed(),
    user: { handle: "nn" },
    edit: (hello) => (hello.pattern = "NN"),
  });
  await assert.rejects(
    new ServerHandshake(deps).hello(client.frame),
    rejectsWith("invalid_hello", /^invalid hello: pattern: unsupported handshake pattern "NN"/),
  );
});

Deno.test("handshake (fakes): IK without a fresh timestamp is stale, nothing written", async () => {
  const { deps, store, clock, serverStatic } = fakeServer();
  const client = fakeHello(serverStatic, {
    pattern: "IK",
    deviceId: "d-stale",
    seed: seed(),
    user: { handle: "stale" },
    now: clock.now - 6 * 60_000,
  });
  await assert.rejects(new ServerHandshake(deps).hello(client.frame), rejectsWith("stale"));
  assert.equal(store.commits.length, 0);
});

Deno.test("handshake (fakes): a known device with another key and no certificate is key_mismatch", async () => {
  const { deps, clock, serverStatic } = fakeServer();
  const first = seed();
  await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-km", seed: first, user: { handle: "km" } }),
  );
  clock.now += 1000;
  await assert.rejects(
    new ServerHandshake(deps).hello(
      fakeHello(serverStatic, { deviceId: "d-km", seed: seed() }).frame,
    ),
    rejectsWith("key_mismatch"),
  );
});

Deno.test("handshake (fakes): an unknown device naming a taken handle must pair", async () => {
  const { deps, serverStatic } = fakeServer();
  await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-a", seed: seed(), user: { handle: "taken" } }),
  );
  await assert.rejects(
    new ServerHandshake(deps).hello(
      fakeHello(serverStatic, { deviceId: "d-b", seed: seed(), user: { handle: "taken" } }).frame,
    ),
    rejectsWith("pairing_required"),
  );
});

Deno.test("handshake (fakes): a certificate for a new key rotates a known device", async () => {
  const { deps, store, clock, ca, serverStatic } = fakeServer();
  const { established } = await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-rot", seed: seed(), user: { handle: "rot" } }),
  );
  clock.now += 2000;
  const next = seed();
  const certificate = certificateToJson(issueCertificate({
    caSeed: ca.privateKey,
    userId: established.userId,
    deviceId: "d-rot",
    publicKey: publicFromSeed(next),
    now: Math.floor(clock.now / 1000),
  }));
  const rotated = await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-rot", seed: next, certificate }),
  );
  assert.equal(rotated.established.action, "rotate");
  assert.equal(toHex(store.devices.get("d-rot")!.publicKey), toHex(publicFromSeed(next)));
});

Deno.test("handshake (fakes): key_mismatch is carried as the Error's reason", async () => {
  const { deps, serverStatic } = fakeServer();
  await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-reason", seed: seed(), user: { handle: "reason" } }),
  );
  const error = await new ServerHandshake(deps)
    .hello(fakeHello(serverStatic, { deviceId: "d-reason", seed: seed() }).frame)
    .then(() => null, (e) => e);
  assert.ok(error instanceof HandshakeError);
  // connection.ts spreads `extra` into the Error frame: {"error":"handshake","reason":…,"detail":…}
  assert.deepEqual(error.extra, { reason: "key_mismatch" });
});

Deno.test("handshake (fakes): rotate K1→K2, then K1 with its certificate in the same second → refused", async () => {
  const { deps, store, clock, ca, serverStatic } = fakeServer();
  const k1 = seed();
  // K1 registers; the certificate it gets is issued in this second (…:00.500).
  const { established, ack } = await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-rb", seed: k1, user: { handle: "rb" } }),
  );
  assert.equal(ack.device_certificate.issued_at, Math.floor(clock.now / 1000));
  // The same certificate as the Ack's (JSON.parse would round its u64 serial, so re-issue it).
  const k1Certificate = certificateToJson(issueCertificate({
    caSeed: ca.privateKey,
    userId: established.userId,
    deviceId: "d-rb",
    publicKey: publicFromSeed(k1),
    now: ack.device_certificate.issued_at,
  }));
  // 300 ms later, still the same second, the device rotates to K2 (a certificate for K2
  // issued in the next second).
  clock.now += 300;
  const k2 = seed();
  const k2Certificate = certificateToJson(issueCertificate({
    caSeed: ca.privateKey,
    userId: established.userId,
    deviceId: "d-rb",
    publicKey: publicFromSeed(k2),
    now: Math.floor(clock.now / 1000) + 1,
  }));
  clock.now += 1000; // the K2 certificate must be valid (not from the future)
  const rotated = await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-rb", seed: k2, certificate: k2Certificate }),
  );
  assert.equal(rotated.established.action, "rotate");
  // The rotation is recorded at …:01.800; K1's certificate says …:00 → older, refused.
  await assert.rejects(
    new ServerHandshake(deps).hello(
      fakeHello(serverStatic, { deviceId: "d-rb", seed: k1, certificate: k1Certificate }).frame,
    ),
    rejectsWith("certificate", /predates the device's current key/),
  );
  // Now the same second exactly: a key change at …:02.100 and a certificate for the old key
  // issued at …:02 (whole seconds) — the case `>=` on seconds let through.
  const sameSecond = Math.floor(clock.now / 1000) + 1;
  clock.now = sameSecond * 1000 + 100;
  store.keyEvents.push({
    eventId: "e-k2-again",
    deviceId: "d-rb",
    publicKey: publicFromSeed(k2),
    recordedAt: new Date(clock.now),
  });
  const k1SameSecond = certificateToJson(issueCertificate({
    caSeed: ca.privateKey,
    userId: established.userId,
    deviceId: "d-rb",
    publicKey: publicFromSeed(k1),
    now: sameSecond,
  }));
  await assert.rejects(
    new ServerHandshake(deps).hello(
      fakeHello(serverStatic, { deviceId: "d-rb", seed: k1, certificate: k1SameSecond }).frame,
    ),
    rejectsWith("certificate", /predates/),
  );
  assert.equal(toHex(store.devices.get("d-rb")!.publicKey), toHex(publicFromSeed(k2)));
});

Deno.test("handshake (fakes): a local device may not take a remote-looking or empty id", async () => {
  const { deps, store, serverStatic } = fakeServer();
  for (
    const [deviceId, detail] of [
      ["something@peer.domain", /^invalid hello: device_id: must not contain '@'/],
      ["", /^invalid hello: device_id: must not be empty/],
    ] as const
  ) {
    await assert.rejects(
      new ServerHandshake(deps).hello(
        fakeHello(serverStatic, { deviceId, seed: seed(), user: { handle: "spoof" } }).frame,
      ),
      rejectsWith("invalid_hello", detail),
    );
  }
  assert.equal(store.commits.length, 0);
  assert.equal(store.devices.size, 0);
});

Deno.test("handshake (fakes): `Bob` and `bob\\u200b` are not two users", async () => {
  const { deps, store, serverStatic } = fakeServer();
  const bobSeed = seed();
  const bob = await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-bob", seed: bobSeed, user: { handle: "Bob" } }),
  );
  assert.equal(bob.ack.user.handle, "bob", "stored in normal form");
  await assert.rejects(
    new ServerHandshake(deps).hello(
      fakeHello(serverStatic, { deviceId: "d-bob2", seed: seed(), user: { handle: "bob\u200b" } })
        .frame,
    ),
    rejectsWith("invalid_hello", /^invalid hello: user.handle: must not contain/),
  );
  for (const lookalike of ["bob", "BOB", "ｂｏｂ"]) {
    await assert.rejects(
      new ServerHandshake(deps).hello(
        fakeHello(serverStatic, { deviceId: "d-bob3", seed: seed(), user: { handle: lookalike } })
          .frame,
      ),
      rejectsWith("pairing_required"),
      lookalike,
    );
  }
  assert.equal(store.users.size, 1);
  // The owner's own device may name its handle in any case.
  await runHandshake(
    new ServerHandshake(deps),
    fakeHello(serverStatic, { deviceId: "d-bob", seed: bobSeed, user: { handle: "BOB" } }),
  );
});

Deno.test("handshake (fakes): a handle stored before normalisation is still found", async () => {
  const { deps, store, serverStatic } = fakeServer();
  store.users.set("legacy", {
    userId: "legacy",
    handle: "Carol",
    displayName: null,
    avatarUrl: null,
    domain: deps.domain,
    createdAt: new Date(0),
    updatedAt: new Date(0),
  });
  await assert.rejects(
    new ServerHandshake(deps).hello(
      fakeHello(serverStatic, { deviceId: "d-carol", seed: seed(), user: { handle: "Carol" } })
        .frame,
    ),
    rejectsWith("pairing_required"),
  );
});

Deno.test("handshake (fakes): oversized Hello fields are refused before any work", async () => {
  const { deps, store, serverStatic } = fakeServer();
  const cases: [string, (h: Record<string, unknown>) => void, RegExp][] = [
    [
      "64 KB handshake",
      (h) => (h.handshake = "ab".repeat(32 * 1024)),
      /handshake: must be at most 4096 bytes/,
    ],
    ["long device id", (h) => (h.device_id = "d".repeat(129)), /device_id: must be at most 128/],
    ["long handle", (h) => (h.user = { handle: "h".repeat(10_000) }), /user.handle: /],
    [
      "long display name",
      (h) => (h.user = { handle: "ok", display_name: "n".repeat(257) }),
      /user.display_name: /,
    ],
    ["many versions", (h) => (h.supported_versions = Array(17).fill(1)), /supported_versions: /],
  ];
  for (const [name, edit, detail] of cases) {
    await assert.rejects(
      new ServerHandshake(deps).hello(
        fakeHello(serverStatic, { deviceId: "d-big", seed: seed(), user: { handle: "big" }, edit })
          .frame,
      ),
      rejectsWith("invalid_hello", detail),
      name,
    );
  }
  assert.equal(deps.replay.size, 0, "nothing remembered");
  assert.equal(store.commits.length, 0);
});

Deno.test("handshake (fakes): a replay cache full of live entries refuses IK, never forgets", async () => {
  const { deps, clock, serverStatic } = fakeServer();
  deps.replay = new ReplayCache(10 * 60_000, 2, () => clock.now); // room for two
  const hellos = [0, 1].map((i) =>
    fakeHello(serverStatic, {
      pattern: "IK",
      deviceId: `d-ik${i}`,
      seed: seed(),
      user: { handle: `ik${i}` },
      now: clock.now,
    })
  );
  for (const hello of hellos) await new ServerHandshake(deps).hello(hello.frame);
  const third = fakeHello(serverStatic, {
    pattern: "IK",
    deviceId: "d-ik2",
    seed: seed(),
    user: { handle: "ik2" },
    now: clock.now,
  });
  await assert.rejects(
    new ServerHandshake(deps).hello(third.frame),
    rejectsWith("replay_cache_full", /replay cache full/),
  );
  assert.equal(deps.replay.refusedFull, 1, "counted");
  // The remembered Hellos are still replays: the flood evicted nothing.
  for (const hello of hellos) {
    await assert.rejects(new ServerHandshake(deps).hello(hello.frame), rejectsWith("replay"));
  }
  // XK does not need the cache (a replay cannot finish without the client's static key).
  const xk = fakeHello(serverStatic, { deviceId: "d-xk", seed: seed(), user: { handle: "xk" } });
  await runHandshake(new ServerHandshake(deps), xk);
  // Past the window, IK is accepted again.
  clock.now += 10 * 60_000;
  const later = fakeHello(serverStatic, {
    pattern: "IK",
    deviceId: "d-ik3",
    seed: seed(),
    user: { handle: "ik3" },
    now: clock.now,
  });
  await new ServerHandshake(deps).hello(later.frame);
});
