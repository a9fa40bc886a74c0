/**
 * Pairing through the REST API (upstream §5.4) against an in-process
 * server over real HTTPS: issue, claim, and the claimed device's handshake
 * as a second device of the same user.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import {
  fromHex,
  fromUtf8,
  parseCertificate,
  publicFromSeed,
  toHex,
  verifyCertificate,
} from "../src/crypto/mod.ts";
import {
  generatePairCode,
  normalizePairCode,
  PAIR_CODE_ALPHABET,
  PAIR_CODE_BITS,
} from "../src/api/mod.ts";
import { MAX_PENDING_PAIRINGS_PER_USER } from "../src/storage/mod.ts";
import { api, assertProblem } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

async function withServer(fn: (srv: TestServer) => Promise<void>): Promise<void> {
  const srv = await startTestServer();
  try {
    await fn(srv);
  } finally {
    await srv.stop();
  }
}

/** The verbatim `device_certificate` JSON of a claim response (its u64 serial must stay exact). */
function certificateText(responseText: string): string {
  const match = /"device_certificate":(\{[^{}]*\})/.exec(responseText);
  assert.ok(match, "claim response carries device_certificate");
  return match[1];
}

const SYMBOL = `[${PAIR_CODE_ALPHABET}]`;
const CODE = new RegExp(`^${SYMBOL}{5}-${SYMBOL}{5}-${SYMBOL}{5}$`);

Deno.test("pairing end to end: code, claim, handshake as a second device, routing", async () => {
  await withServer(async (srv) => {
    const aliceDevice = newDevice("alice");
    const a = await CommuCatClient.connect(connectOptions(srv, aliceDevice));

    const issued = await api(srv, "POST", "/api/pair", { as: a });
    assert.equal(issued.status, 200, issued.text);
    const pairing = issued.body!;
    assert.match(String(pairing.pair_code), CODE);
    assert.equal(pairing.ttl, 300);
    assert.equal(pairing.issuer_device_id, aliceDevice.deviceId);
    assert.equal(pairing.device_ca_public, toHex(srv.server.keys.ca.publicKey));
    assert.equal(
      Date.parse(String(pairing.expires_at)) - Date.parse(String(pairing.issued_at)),
      300_000,
    );
    assert.equal("device_seed" in pairing, false, "the unused upstream device_seed is dropped");

    // Claimed without credentials; lower case and whitespace are accepted.
    const claim = await api(srv, "POST", "/api/pair/claim", {
      json: { pair_code: `  ${String(pairing.pair_code).toLowerCase()} `, device_name: "laptop" },
    });
    assert.equal(claim.status, 200, claim.text);
    const c = claim.body!;
    assert.equal(c.user_id, a.session.userId);
    assert.equal(c.issuer_device_id, aliceDevice.deviceId);
    assert.equal(c.device_name, "laptop");
    assert.equal((c.user as Record<string, unknown>).handle, aliceDevice.handle);
    assert.match(String(c.device_id), /^[0-9a-f]{64}$/);
    const privateKey = fromHex(String(c.private_key), 32);
    assert.equal(toHex(publicFromSeed(privateKey)), c.public_key);
    assert.equal(String(c.seed).length, 64);
    const certText = certificateText(claim.text);
    const cert = parseCertificate(certText);
    assert.deepEqual(
      verifyCertificate(cert, {
        caPublic: srv.server.keys.ca.publicKey,
        now: Math.floor(Date.now() / 1000),
        deviceId: String(c.device_id),
        userId: a.session.userId,
        publicKey: fromHex(String(c.public_key), 32),
      }),
      { ok: true },
    );

    // The stored device belongs to alice's user and is active.
    const stored = await srv.server.store.getDevice(String(c.device_id));
    assert.equal(stored?.userId, a.session.userId);
    assert.equal(stored?.status, "active");

    // The new device completes its handshake with the returned key and certificate.
    const paired: TestDevice = {
      deviceId: String(c.device_id),
      privateKey,
      publicKey: publicFromSeed(privateKey),
      handle: aliceDevice.handle,
    };
    const b = await CommuCatClient.connect(connectOptions(srv, paired, { certificate: certText }));
    assert.equal(b.session.userId, a.session.userId, "same user, second device");

    // Same user: each may route to the other without any friendship.
    await a.join(31, [paired.deviceId]);
    await a.send(31, "to my laptop");
    assert.equal(fromUtf8((await within(b.next(), "a→b"))!.payload), "to my laptop");
    await b.send(31, "from my laptop");
    assert.equal(fromUtf8((await within(a.next(), "b→a"))!.payload), "from my laptop");

    // Both appear in the device list; the code is spent.
    const devices = await api(srv, "GET", "/api/devices", { as: b });
    const list = devices.body!.devices as Record<string, unknown>[];
    assert.deepEqual(
      list.map((d) => d.device_id).sort(),
      [aliceDevice.deviceId, paired.deviceId].sort(),
    );
    assert.equal(list.find((d) => d.current)?.device_id, paired.deviceId);
    assertProblem(
      await api(srv, "POST", "/api/pair/claim", { json: { pair_code: pairing.pair_code } }),
      400,
      "pairing code invalid or expired",
    );
    a.close();
    b.close();
  });
});

Deno.test("pairing: /api/pairing aliases, ttl rules, input errors", async () => {
  await withServer(async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const short = await api(srv, "POST", "/api/pairing", { as: a, json: { ttl: 1 } });
    assert.equal(short.status, 200, short.text);
    assert.equal(short.body!.ttl, 60, "clamped up to 60 s");
    const long = await api(srv, "POST", "/api/pair", { as: a, json: { ttl: 99_999 } });
    assert.equal(long.body!.ttl, 300, "never above limits.pairing_ttl");
    const mid = await api(srv, "POST", "/api/pair", { as: a, json: { ttl: 120 } });
    assert.equal(mid.body!.ttl, 120);
    assertProblem(
      await api(srv, "POST", "/api/pair", { as: a, json: { ttl: 0 } }),
      400,
      "ttl must be positive",
    );
    assertProblem(
      await api(srv, "POST", "/api/pair", { as: a, json: { ttl: "soon" } }),
      400,
    );
    assertProblem(
      await api(srv, "POST", "/api/pair", { json: {} }),
      401,
      "missing Authorization header",
    );
    assertProblem(
      await api(srv, "POST", "/api/pair", {
        as: a,
        body: "{not json",
        headers: { "content-type": "application/json" },
      }),
      400,
      "invalid JSON payload",
    );
    assertProblem(await api(srv, "GET", "/api/pair", { as: a }), 405);

    const viaAlias = await api(srv, "POST", "/api/pairing/claim", {
      json: { pair_code: short.body!.pair_code },
    });
    assert.equal(viaAlias.status, 200, viaAlias.text);
    assertProblem(
      await api(srv, "POST", "/api/pair/claim", { json: { pair_code: "   " } }),
      400,
      "pair_code is required",
    );
    assertProblem(
      await api(srv, "POST", "/api/pair/claim", { json: {} }),
      400,
      "pair_code is required",
    );
    assertProblem(
      await api(srv, "POST", "/api/pair/claim", { json: { pair_code: "ZZZZ-ZZZZ" } }),
      404,
      "pairing code not found",
    );
    a.close();
  });
});

Deno.test("pairing: an expired code is refused and counts the attempt", async () => {
  await withServer(async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const store = srv.server.store;
    const past = Date.now() - 10 * 60_000;
    await store.createPairing({
      pairCode: "OLDC-ODE2",
      userId: a.session.userId,
      issuerDeviceId: (await store.getSession(a.session.sessionId))!.deviceId,
      issuedAt: new Date(past),
      expiresAt: new Date(past + 60_000),
    });
    assertProblem(
      await api(srv, "POST", "/api/pair/claim", { json: { pair_code: "oldc-ode2" } }),
      400,
      "pairing code invalid or expired",
    );
    assert.equal((await store.getPairing("OLDC-ODE2"))?.attempts, 1);
    assert.equal((await store.listDevicesForUser(a.session.userId)).length, 1, "no device added");
    a.close();
  });
});

Deno.test("pairing: attempts are counted; at five the code is dead and purged", async () => {
  await withServer(async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const store = srv.server.store;
    const code = String((await api(srv, "POST", "/api/pair", { as: a })).body!.pair_code);
    assert.equal(
      (await api(srv, "POST", "/api/pair/claim", { json: { pair_code: code } })).status,
      200,
    );
    for (let i = 0; i < 2; i++) {
      assertProblem(
        await api(srv, "POST", "/api/pair/claim", { json: { pair_code: code } }),
        400,
        "pairing code invalid or expired",
      );
    }
    assert.equal((await store.getPairing(code))?.attempts, 3);
    // Two more failures (straight at the store) reach the limit.
    for (let i = 0; i < 2; i++) {
      const r = await store.claimPairing(code, new Date(), {
        deviceId: `x${i}`,
        publicKey: new Uint8Array(32).fill(7),
        status: "active",
        createdAt: new Date(),
      }, {
        eventId: `ex${i}`,
        deviceId: `x${i}`,
        publicKey: new Uint8Array(32),
        recordedAt: new Date(),
      });
      assert.equal(r.ok, false);
    }
    assert.equal((await store.getPairing(code))?.attempts, 5);
    assert.equal(await store.purgePairings(new Date()), 1);
    assertProblem(
      await api(srv, "POST", "/api/pair/claim", { json: { pair_code: code } }),
      404,
      "pairing code not found",
    );
    // The device paired by the one good claim stays.
    assert.equal((await store.listDevicesForUser(a.session.userId)).length, 2);
    a.close();
  });
});

Deno.test("pairing codes carry at least 60 bits (#19 §3): 15 symbols of 31, typeable in groups", () => {
  assert.ok(PAIR_CODE_BITS >= 60, `only ${PAIR_CODE_BITS} bits`);
  assert.equal(PAIR_CODE_ALPHABET.length, 31);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const code = generatePairCode();
    assert.match(code, CODE);
    seen.add(code);
  }
  assert.equal(seen.size, 200);
  // What a person types: any case, spaces or dashes anywhere.
  assert.equal(normalizePairCode(" abcde fghjk-mnpqr "), "ABCDE-FGHJK-MNPQR");
  assert.equal(normalizePairCode("ABCDEFGHJKMNPQR"), "ABCDE-FGHJK-MNPQR");
  // Anything else stays as typed (codes issued before the change still match).
  assert.equal(normalizePairCode(" oldc-ode2 "), "OLDC-ODE2");
});

Deno.test("pairing: a code typed in spaced groups is claimed", async () => {
  await withServer(async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const code = String((await api(srv, "POST", "/api/pair", { as: a })).body!.pair_code);
    const claim = await api(srv, "POST", "/api/pair/claim", {
      json: { pair_code: code.toLowerCase().replaceAll("-", " ") },
    });
    assert.equal(claim.status, 200, claim.text);
    a.close();
  });
});

Deno.test("pairing: pending codes per user are bounded; one more replaces the oldest (#19 §3)", async () => {
  await withServer(async (srv) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const b = await CommuCatClient.connect(connectOptions(srv, newDevice("bob")));
    const issue = async (as: CommuCatClient) => {
      const r = await api(srv, "POST", "/api/pair", { as });
      assert.equal(r.status, 200, r.text);
      return String(r.body!.pair_code);
    };
    const bobs = await issue(b);
    const codes: string[] = [];
    for (let i = 0; i < MAX_PENDING_PAIRINGS_PER_USER + 3; i++) codes.push(await issue(a));
    const store = srv.server.store;
    const stored = await Promise.all(codes.map((c) => store.getPairing(c)));
    const kept = codes.filter((_, i) => stored[i] !== null);
    assert.deepEqual(kept, codes.slice(-MAX_PENDING_PAIRINGS_PER_USER), "the newest are kept");
    assertProblem(
      await api(srv, "POST", "/api/pair/claim", { json: { pair_code: codes[0] } }),
      404,
      "pairing code not found",
    );
    assert.equal(
      (await api(srv, "POST", "/api/pair/claim", { json: { pair_code: codes.at(-1) } })).status,
      200,
    );
    assert.notEqual(await store.getPairing(bobs), null, "another user's codes are untouched");
    a.close();
    b.close();
  });
});
