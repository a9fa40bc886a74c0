import assert from "node:assert/strict";
import { utf8 } from "../bytes.ts";
import { ML_KEM_768, pqSuite } from "../pq/mod.ts";
import { NoiseError, type NoiseErrorCode } from "./errors.ts";
import { createHandshake, generateKeyPair, type Handshake } from "./handshake.ts";
import { parseProtocolName } from "./patterns.ts";
import type { Backend } from "./primitives.ts";
import { TAG_LENGTH } from "./primitives.ts";

const XKHFS = "Noise_XKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";
const IKHFS = "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";

function withCode(code: NoiseErrorCode) {
  return (err: unknown) => err instanceof NoiseError && err.code === code;
}

function parties(protocolName: string, initBackend: Backend = "native", respBackend = initBackend) {
  const client = generateKeyPair();
  const server = generateKeyPair();
  const prologue = utf8("commucat hfs test");
  const initiator = createHandshake({
    protocolName,
    initiator: true,
    prologue,
    staticPrivate: client.privateKey,
    remoteStatic: server.publicKey,
    backend: initBackend,
  });
  const responder = createHandshake({
    protocolName,
    initiator: false,
    prologue,
    staticPrivate: server.privateKey,
    backend: respBackend,
  });
  return { initiator, responder };
}

/** Runs a handshake to completion with the async API; returns every message. */
async function complete(initiator: Handshake, responder: Handshake): Promise<Uint8Array[]> {
  const messages: Uint8Array[] = [];
  let [sender, receiver] = [initiator, responder];
  for (let i = 0; !initiator.isFinished; i++) {
    const payload = utf8(`payload ${i}`);
    const message = await sender.writeMessageAsync(payload);
    assert.deepEqual(await receiver.readMessageAsync(message), payload);
    messages.push(message);
    [sender, receiver] = [receiver, sender];
  }
  assert.equal(responder.isFinished, true);
  return messages;
}

Deno.test("hfs: XKhfs and IKhfs parse with e1 after es and ekem1 after ee", () => {
  const xk = parseProtocolName(XKHFS);
  assert.equal(xk.kem, "MLKEM768");
  assert.deepEqual(xk.pattern.messages, [["e", "es", "e1"], ["e", "ee", "ekem1"], ["s", "se"]]);
  const ik = parseProtocolName(IKHFS);
  assert.deepEqual(ik.pattern.messages, [["e", "es", "e1", "s", "ss"], [
    "e",
    "ee",
    "ekem1",
    "se",
  ]]);
  assert.equal(parseProtocolName("Noise_XK_25519_ChaChaPoly_BLAKE2s").kem, null);
  for (
    const bad of [
      "Noise_XKhfs_25519_ChaChaPoly_BLAKE2s", // hfs without a KEM
      "Noise_XK_25519+MLKEM768_ChaChaPoly_BLAKE2s", // a KEM without hfs
      "Noise_XKhfs_25519+MLKEM512_ChaChaPoly_BLAKE2s", // a KEM we lack
      "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s", // an hfs pattern we lack
      "Noise_NNhfs_25519_ChaChaPoly_BLAKE2s", // NNhfs without its KEM
      "Noise_XKhfspsk2_25519+MLKEM768_ChaChaPoly_BLAKE2s", // hfs with psk
      "Noise_XKhfs_25519+MLKEM768+MLKEM768_ChaChaPoly_BLAKE2s",
    ]
  ) {
    assert.throws(() => parseProtocolName(bad), withCode("unsupported-protocol"), bad);
  }
});

for (const protocolName of [XKHFS, IKHFS]) {
  const pattern = protocolName.split("_")[1];
  for (const [a, b] of [["native", "native"], ["noble", "noble"], ["native", "noble"]] as const) {
    Deno.test(`hfs: ${pattern} completes (${a} initiator, ${b} responder) with HFS sizes`, async () => {
      const { initiator, responder } = parties(protocolName, a, b);
      const messages = await complete(initiator, responder);
      // msg1 = e ‖ enc(e1) [‖ enc(s)] ‖ enc(payload); msg2 = e ‖ enc(ekem1) ‖ enc(payload).
      const payload1 = utf8("payload 0").length + TAG_LENGTH;
      const static1 = pattern === "IKhfs" ? 32 + TAG_LENGTH : 0;
      assert.equal(
        messages[0].length,
        32 + ML_KEM_768.publicKeyLength + TAG_LENGTH + static1 + payload1,
      );
      assert.equal(
        messages[1].length,
        32 + ML_KEM_768.ciphertextLength + TAG_LENGTH + utf8("payload 1").length + TAG_LENGTH,
      );
      assert.deepEqual(initiator.handshakeHash, responder.handshakeHash);
      const [ti, tr] = [initiator.split(), responder.split()];
      assert.deepEqual(tr.decrypt(ti.encrypt(utf8("hello"))), utf8("hello"));
      assert.deepEqual(ti.decrypt(tr.encrypt(utf8("back"))), utf8("back"));
    });
  }
}

Deno.test("hfs: the reply payload may be computed from the hash after ekem1; both sides see it", async () => {
  const { initiator, responder } = parties(XKHFS);
  await responder.readMessageAsync(await initiator.writeMessageAsync());
  let seen: Uint8Array | null = null;
  const msg2 = await responder.writeMessageAsync((h) => {
    seen = h;
    return Promise.resolve(utf8("signed"));
  });
  assert.deepEqual(await initiator.readMessageAsync(msg2), utf8("signed"));
  assert.ok(seen !== null);
  assert.deepEqual(initiator.payloadHash, seen);
  assert.deepEqual(responder.payloadHash, seen);
});

Deno.test("hfs: the sync API refuses a KEM step without failing the handshake", async () => {
  const { initiator, responder } = parties(XKHFS);
  assert.throws(() => initiator.writeMessage(), withCode("invalid-state"));
  const msg1 = await initiator.writeMessageAsync();
  responder.readMessage(msg1); // Reading e1 needs no KEM operation.
  assert.throws(() => responder.writeMessage(), withCode("invalid-state"));
  const msg2 = await responder.writeMessageAsync();
  assert.throws(() => initiator.readMessage(msg2), withCode("invalid-state"));
  await initiator.readMessageAsync(msg2);
  responder.readMessage(initiator.writeMessage());
  assert.equal(responder.isFinished, true);
});

Deno.test("hfs: a wrong-size e1 and a flipped ciphertext bit fail with a NoiseError", async () => {
  {
    const { initiator, responder } = parties(XKHFS);
    const msg1 = await initiator.writeMessageAsync();
    const short = msg1.subarray(0, 32 + ML_KEM_768.publicKeyLength); // e1 cut short, no payload
    await assert.rejects(responder.readMessageAsync(short), withCode("message-too-short"));
  }
  {
    const { initiator, responder } = parties(XKHFS);
    const msg1 = await initiator.writeMessageAsync();
    const longer = new Uint8Array(msg1.length + 8); // e1 field shifted: its tag no longer checks
    longer.set(msg1.subarray(0, 100));
    longer.set(msg1.subarray(100), 108);
    await assert.rejects(responder.readMessageAsync(longer), withCode("decrypt-failed"));
  }
  {
    const { initiator, responder } = parties(IKHFS);
    await responder.readMessageAsync(await initiator.writeMessageAsync());
    const msg2 = await responder.writeMessageAsync();
    msg2[32 + 500] ^= 0x04; // inside the encrypted KEM ciphertext
    await assert.rejects(initiator.readMessageAsync(msg2), withCode("decrypt-failed"));
    await assert.rejects(initiator.readMessageAsync(msg2), withCode("invalid-state"));
  }
});

Deno.test("hfs: a different KEM secret (implicit rejection) fails the payload, not the ciphertext", async () => {
  // The responder's KEM lies about the secret: the ciphertext decrypts, the payload does not.
  const real = pqSuite("noble").kem;
  const lying = {
    ...real,
    encapsulate: async (publicKey: Uint8Array) => {
      const { ciphertext } = await real.encapsulate(publicKey);
      return { ciphertext, sharedSecret: new Uint8Array(32).fill(1) };
    },
  };
  const server = generateKeyPair();
  const initiator = createHandshake({
    protocolName: XKHFS,
    initiator: true,
    staticPrivate: generateKeyPair().privateKey,
    remoteStatic: server.publicKey,
  });
  const responder = createHandshake({
    protocolName: XKHFS,
    initiator: false,
    staticPrivate: server.privateKey,
    kem: lying,
  });
  await responder.readMessageAsync(await initiator.writeMessageAsync());
  await assert.rejects(
    initiator.readMessageAsync(await responder.writeMessageAsync(utf8("x"))),
    withCode("decrypt-failed"),
  );
});

Deno.test("hfs: a classical handshake refuses a KEM and concurrent async calls are refused", async () => {
  assert.throws(
    () =>
      createHandshake({
        protocolName: "Noise_NN_25519_ChaChaPoly_BLAKE2s",
        initiator: true,
        kem: pqSuite().kem,
      }),
    withCode("invalid-argument"),
  );
  const { initiator } = parties(XKHFS);
  const first = initiator.writeMessageAsync();
  await assert.rejects(initiator.writeMessageAsync(), withCode("invalid-state"));
  await first;
});
