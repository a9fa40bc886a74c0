import assert from "node:assert/strict";
import {
  createHandshake,
  generateKeyPair,
  serverSignatureMessage,
  toHex,
  utf8,
} from "../crypto/mod.ts";
import { pqSuite } from "../crypto/pq/mod.ts";
import { choosePattern, type ClientOptions, verifyServerSignature } from "./client.ts";

const { signer } = pqSuite();

/** A client that has read a hybrid message 2 whose payload the test chooses. */
async function readReply(payload: (h: Uint8Array) => Promise<Uint8Array>) {
  const server = generateKeyPair();
  const protocolName = "Noise_XKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";
  const client = createHandshake({
    protocolName,
    initiator: true,
    staticPrivate: generateKeyPair().privateKey,
    remoteStatic: server.publicKey,
  });
  const responder = createHandshake({
    protocolName,
    initiator: false,
    staticPrivate: server.privateKey,
  });
  await responder.readMessageAsync(await client.writeMessageAsync());
  const reply = await client.readMessageAsync(await responder.writeMessageAsync(payload));
  return { client, reply };
}

Deno.test("client pq: the reply's signature must be present, well-formed and by the pinned key", async () => {
  const identity = await signer.generateKeyPair();
  const signed = (key = identity) => async (h: Uint8Array) =>
    utf8(JSON.stringify({
      pq_signature: toHex(await signer.sign(key, serverSignatureMessage(h))),
    }));
  {
    const { client, reply } = await readReply(signed());
    await verifyServerSignature(client, reply, identity.publicKey);
  }
  const cases: [string, (h: Uint8Array) => Promise<Uint8Array>, RegExp][] = [
    ["missing", () => Promise.resolve(utf8("{}")), /carries no ML-DSA-65 signature/],
    ["not JSON", () => Promise.resolve(utf8("x")), /carries no ML-DSA-65 signature/],
    ["another key", signed(await signer.generateKeyPair()), /does not match the pinned key/],
    ["over another hash", async () => {
      const sig = await signer.sign(identity, serverSignatureMessage(new Uint8Array(32)));
      return utf8(JSON.stringify({ pq_signature: toHex(sig) }));
    }, /does not match the pinned key/],
  ];
  for (const [what, payload, error] of cases) {
    const { client, reply } = await readReply(payload);
    await assert.rejects(verifyServerSignature(client, reply, identity.publicKey), error, what);
  }
});

Deno.test("client pq: prefer uses the hybrid only with a pin; require and off are strict", () => {
  const base = { serverStatic: new Uint8Array(32) } as ClientOptions;
  const pin = new Uint8Array(1952);
  assert.equal(choosePattern({ ...base }).name, "XK");
  assert.equal(choosePattern({ ...base, serverPqPublic: pin }).name, "XKhfs");
  assert.equal(choosePattern({ ...base, pattern: "IK", serverPqPublic: pin }).name, "IKhfs");
  assert.equal(choosePattern({ ...base, pq: "off", serverPqPublic: pin }).name, "XK");
  assert.throws(() => choosePattern({ ...base, pq: "require" }), /pinned ML-DSA-65 key/);
  assert.throws(() => choosePattern({ ...base, pattern: "XKhfs" }), /pinned ML-DSA-65 key/);
  assert.throws(() => choosePattern({ ...base, pq: "off", pattern: "IKhfs" }), /pq is "off"/);
  assert.throws(
    () => choosePattern({ ...base, serverPqPublic: new Uint8Array(10) }),
    /must be 1952 bytes/,
  );
});
