/**
 * The server handshake with post-quantum hybrid patterns (fakes): the
 * ML-DSA-65 signature in message 2, the `crypto.pq` policy, the CPU budget,
 * and bad input refused before anything is written.
 */
import assert from "node:assert/strict";
import { fromHex, fromUtf8, serverSignatureMessage, toHex } from "../crypto/mod.ts";
import { pqSuite } from "../crypto/pq/mod.ts";
import { HandshakeError } from "./errors.ts";
import { type PqHandshakePolicy, ServerHandshake } from "./handshake.ts";
import { decoded, fakeHello, fakeServer, runHandshake } from "./_handshake_fakes.ts";
import { controlFrame, FrameType } from "../proto/mod.ts";

const { kem, signer } = pqSuite();
const seed = () => crypto.getRandomValues(new Uint8Array(32));

function rejectsWith(reason: string, detail?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    if (detail) assert.match(error.message, detail);
    return true;
  };
}

async function hybridServer(pq?: PqHandshakePolicy) {
  const identity = await signer.generateKeyPair();
  return { ...fakeServer(pq ? { pq } : {}, identity), identity };
}

async function hybridHello(
  serverStatic: Uint8Array,
  pattern: string,
  now: number,
  edit?: (hello: Record<string, unknown>) => void,
) {
  return fakeHello(serverStatic, {
    pattern,
    deviceId: `dev-${pattern}-${crypto.randomUUID()}`,
    seed: seed(),
    user: { handle: `u_${crypto.randomUUID().slice(0, 8)}` },
    now,
    kemKeyPair: await kem.generateKeyPair(),
    edit,
  });
}

for (const pattern of ["XKhfs", "IKhfs"]) {
  Deno.test(`handshake pq (fakes): ${pattern} registers; message 2 carries the ML-DSA-65 signature of h`, async () => {
    const { deps, store, clock, serverStatic, identity } = await hybridServer();
    const client = await hybridHello(serverStatic, pattern, clock.now);
    const server = new ServerHandshake(deps);
    const auth = await server.hello(client.frame);
    const msg2 = fromHex(JSON.parse(fromUtf8(auth.payload)).handshake);
    // e ‖ enc(ekem1 ciphertext, 1088 B) ‖ enc(payload)
    assert.ok(msg2.length > 32 + 1088 + 16 + 16);
    const payload = JSON.parse(fromUtf8(await client.noise.readMessageAsync(msg2)));
    const h = client.noise.payloadHash!;
    assert.ok(
      await signer.verify(
        identity.publicKey,
        serverSignatureMessage(h),
        fromHex(payload.pq_signature),
      ),
      "the signature covers the hash after ekem1",
    );
    const other = await signer.generateKeyPair();
    assert.equal(
      await signer.verify(
        other.publicKey,
        serverSignatureMessage(h),
        fromHex(payload.pq_signature),
      ),
      false,
    );
    if (!client.noise.isFinished) {
      const msg3 = toHex(client.noise.writeMessage());
      server.auth(decoded(controlFrame(FrameType.Auth, 0, 2, { handshake: msg3 })));
    }
    const established = await server.commit();
    assert.equal(established.action, "register");
    assert.equal(store.commits.length, 1);
    const clientTransport = client.noise.split();
    assert.ok(clientTransport.decrypt(established.transport.encrypt(new Uint8Array([1, 2]))));
  });
}

Deno.test("handshake pq (fakes): crypto.pq = require refuses a classical Hello, nothing written", async () => {
  const { deps, store, clock, serverStatic } = await hybridServer({ mode: "require" });
  const client = fakeHello(serverStatic, {
    pattern: "XK",
    deviceId: "classical",
    seed: seed(),
    user: { handle: "classical" },
    now: clock.now,
  });
  await assert.rejects(
    new ServerHandshake(deps).hello(client.frame),
    rejectsWith("pq_required", /crypto\.pq = "require".*use XKhfs instead of XK/),
  );
  assert.equal(store.commits.length, 0);
  // The hybrid of the same pattern goes through.
  const hybrid = await hybridHello(serverStatic, "XKhfs", clock.now);
  await runHandshake(new ServerHandshake(deps), hybrid);
  assert.equal(store.commits.length, 1);
});

Deno.test("handshake pq (fakes): crypto.pq = off refuses a hybrid Hello", async () => {
  const { deps, store, clock, serverStatic } = await hybridServer({ mode: "off" });
  const client = await hybridHello(serverStatic, "IKhfs", clock.now);
  await assert.rejects(
    new ServerHandshake(deps).hello(client.frame),
    rejectsWith("pq_disabled", /crypto\.pq = "off".*use IK/),
  );
  assert.equal(store.commits.length, 0);
});

Deno.test("handshake pq (fakes): the CPU budget refuses hybrid Hellos and is asked by them only", async () => {
  const charges: number[] = [];
  let credit = true;
  const budget = { admit: () => (charges.push(1), credit) };
  const { deps, clock, serverStatic } = await hybridServer({ mode: "prefer", budget });
  await runHandshake(
    new ServerHandshake(deps),
    await hybridHello(serverStatic, "XKhfs", clock.now),
  );
  assert.equal(charges.length, 1);
  const classical = fakeHello(serverStatic, {
    pattern: "XK",
    deviceId: "c1",
    seed: seed(),
    user: { handle: "c1" },
    now: clock.now,
  });
  await runHandshake(new ServerHandshake(deps), classical);
  assert.equal(charges.length, 1, "classical handshakes do not draw on the budget");
  credit = false;
  await assert.rejects(
    new ServerHandshake(deps).hello((await hybridHello(serverStatic, "XKhfs", clock.now)).frame),
    rejectsWith("pq_busy", /pq_handshake_cpu_percent.*or use XK/),
  );
});

Deno.test("handshake pq (fakes): a server key without a PQ identity refuses hybrid by name", async () => {
  const { deps, store, clock, serverStatic } = fakeServer();
  const client = await hybridHello(serverStatic, "XKhfs", clock.now);
  await assert.rejects(
    new ServerHandshake(deps).hello(client.frame),
    rejectsWith("pq_unavailable", /no post-quantum identity; retry with XK/),
  );
  assert.equal(store.commits.length, 0);
});

Deno.test("handshake pq (fakes): wrong-size or tampered e1 in message 1 is a noise error, nothing written", async () => {
  const { deps, store, clock, serverStatic } = await hybridServer();
  const edits: [string, (msg1: Uint8Array) => Uint8Array][] = [
    ["e1 one byte short", (m) => new Uint8Array([...m.subarray(0, 100), ...m.subarray(101)])],
    ["e1 one byte long", (m) => new Uint8Array([...m.subarray(0, 100), 0, ...m.subarray(100)])],
    ["a flipped bit in e1", (m) => {
      const copy = m.slice();
      copy[600] ^= 1;
      return copy;
    }],
    ["message 1 without e1", (m) => m.subarray(0, 32 + 16)],
  ];
  for (const [what, edit] of edits) {
    const client = await hybridHello(serverStatic, "XKhfs", clock.now, (hello) => {
      hello.handshake = toHex(edit(fromHex(hello.handshake as string)));
    });
    await assert.rejects(new ServerHandshake(deps).hello(client.frame), rejectsWith("noise"), what);
  }
  assert.equal(store.commits.length, 0);
});
