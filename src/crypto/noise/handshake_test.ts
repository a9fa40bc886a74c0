import assert from "node:assert/strict";
import { toHex, utf8 } from "../bytes.ts";
import { NoiseError, type NoiseErrorCode } from "./errors.ts";
import {
  createHandshake,
  generateKeyPair,
  type Handshake,
  type HandshakeOptions,
  x25519PublicFromPrivate,
} from "./handshake.ts";
import { MAX_MESSAGE_LENGTH, TAG_LENGTH } from "./primitives.ts";
import { MAX_TRANSPORT_PLAINTEXT, type NoiseTransport } from "./transport.ts";

const XK = "Noise_XK_25519_ChaChaPoly_BLAKE2s";
const IK = "Noise_IK_25519_ChaChaPoly_SHA256";

function withCode(code: NoiseErrorCode) {
  return (err: unknown) => err instanceof NoiseError && err.code === code;
}

function random(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** Initiator and responder of an XK or IK handshake with random static keys. */
function parties(
  protocolName: string,
  extra: Partial<HandshakeOptions> = {},
  extraResp: Partial<HandshakeOptions> = {},
) {
  const client = generateKeyPair();
  const server = generateKeyPair();
  const prologue = utf8("commucat test");
  const initiator = createHandshake({
    protocolName,
    initiator: true,
    prologue,
    staticPrivate: client.privateKey,
    remoteStatic: server.publicKey,
    ...extra,
  });
  const responder = createHandshake({
    protocolName,
    initiator: false,
    prologue,
    staticPrivate: server.privateKey,
    ...extraResp,
  });
  return { client, server, initiator, responder };
}

/** Runs the handshake to completion, each message carrying a payload; returns all messages. */
function complete(initiator: Handshake, responder: Handshake): Uint8Array[] {
  const transcript: Uint8Array[] = [];
  let [sender, receiver] = initiator.isMyTurn ? [initiator, responder] : [responder, initiator];
  for (let i = 0; !initiator.isFinished; i++) {
    assert.equal(sender.isMyTurn, true);
    assert.equal(receiver.isMyTurn, false);
    const payload = utf8(`handshake payload ${i}`);
    const message = sender.writeMessage(payload);
    assert.deepEqual(receiver.readMessage(message), payload);
    transcript.push(message);
    [sender, receiver] = [receiver, sender];
  }
  assert.equal(responder.isFinished, true);
  return transcript;
}

function exchange(a: NoiseTransport, b: NoiseTransport, rounds = 3): void {
  for (let i = 0; i < rounds; i++) {
    const ping = random(1 + i * 100);
    assert.deepEqual(b.decrypt(a.encrypt(ping)), ping);
    const pong = random(7 + i);
    assert.deepEqual(a.decrypt(b.encrypt(pong)), pong);
  }
}

for (const protocolName of [XK, IK, "Noise_XK_25519_ChaChaPoly_SHA256"]) {
  Deno.test(`${protocolName}: full handshake with random keys, then traffic both ways`, () => {
    const { client, server, initiator, responder } = parties(protocolName);
    assert.equal(responder.remoteStatic, null);
    complete(initiator, responder);
    assert.deepEqual(responder.remoteStatic, client.publicKey);
    assert.deepEqual(initiator.remoteStatic, server.publicKey);
    assert.deepEqual(initiator.handshakeHash, responder.handshakeHash);
    const a = initiator.split();
    const b = responder.split();
    assert.deepEqual(a.handshakeHash, initiator.handshakeHash);
    exchange(a, b);
    assert.equal(a.sendNonce, 3);
    assert.equal(b.recvNonce, 3);
    assert.throws(() => initiator.split(), withCode("invalid-state"));
    // The hash shares a buffer with the keys: reads are copies, and wiping the keys spares it.
    const hash = initiator.handshakeHash;
    a.handshakeHash.fill(0);
    a.destroy();
    assert.deepEqual(a.handshakeHash, hash);
    assert.deepEqual(initiator.handshakeHash, hash);
    assert.throws(() => a.encrypt(new Uint8Array(1)), withCode("invalid-state"));
  });
}

Deno.test("native and noble produce identical transcripts for the same injected keys", () => {
  const keys = {
    initStatic: random(32),
    respStatic: random(32),
    initEphemeral: random(32),
    respEphemeral: random(32),
    psk: random(32),
  };
  const transcripts: string[][] = [];
  for (const backend of ["native", "noble"] as const) {
    for (const protocolName of [XK, IK, "Noise_XKpsk3_25519_ChaChaPoly_SHA256"]) {
      const psks = protocolName.includes("psk") ? [keys.psk] : undefined;
      const initiator = createHandshake({
        protocolName,
        initiator: true,
        staticPrivate: keys.initStatic,
        remoteStatic: x25519PublicFromPrivate(keys.respStatic, backend),
        ephemeralPrivate: keys.initEphemeral,
        psks,
        backend,
      });
      const responder = createHandshake({
        protocolName,
        initiator: false,
        staticPrivate: keys.respStatic,
        ephemeralPrivate: keys.respEphemeral,
        psks,
        backend,
      });
      const messages = complete(initiator, responder);
      const [a, b] = [initiator.split(), responder.split()];
      const payload = utf8("same bytes everywhere");
      messages.push(a.encrypt(payload), b.encrypt(payload));
      a.rekeySend();
      b.rekeyRecv();
      messages.push(a.encrypt(payload));
      transcripts.push([toHex(initiator.handshakeHash), ...messages.map(toHex)]);
    }
  }
  assert.deepEqual(transcripts.slice(0, 3), transcripts.slice(3));
});

Deno.test("a handshake leaves nothing behind for the next one with the same name", () => {
  // createHandshake remembers parsed names and the initial hash per name, and
  // HMAC and X25519 reuse scratch buffers: the same keys give the same transcript
  // again, and a handshake in between with other keys and peers does not change it.
  const keys = [random(32), random(32), random(32), random(32)];
  const transcript = (k: Uint8Array[]) => {
    const initiator = createHandshake({
      protocolName: XK,
      initiator: true,
      staticPrivate: k[0],
      remoteStatic: x25519PublicFromPrivate(k[1]),
      ephemeralPrivate: k[2],
    });
    const responder = createHandshake({
      protocolName: XK,
      initiator: false,
      staticPrivate: k[1],
      ephemeralPrivate: k[3],
    });
    const messages = complete(initiator, responder);
    return [toHex(initiator.handshakeHash), toHex(responder.handshakeHash), ...messages.map(toHex)];
  };
  const first = transcript(keys);
  assert.equal(first[0], first[1]);
  const other = transcript([random(32), random(32), random(32), random(32)]);
  assert.notEqual(other[0], first[0]);
  assert.deepEqual(transcript(keys), first);
});

Deno.test("a native initiator interoperates with a noble responder", () => {
  const { initiator, responder } = parties(IK, {}, { backend: "noble" });
  complete(initiator, responder);
  exchange(initiator.split(), responder.split());
});

Deno.test("a tampered handshake message is rejected and the handshake cannot continue", () => {
  for (const index of [0, 10, 40, 47]) {
    const { initiator, responder } = parties(XK);
    const message = initiator.writeMessage(utf8("hi"));
    message[index] ^= 0x80;
    assert.throws(
      () => responder.readMessage(message),
      (err) => err instanceof NoiseError && /decrypt-failed|invalid-public-key/.test(err.code),
    );
    assert.throws(() => responder.writeMessage(), withCode("invalid-state"));
  }
  // Tampering the responder's reply is caught by the initiator.
  const { initiator, responder } = parties(XK);
  responder.readMessage(initiator.writeMessage());
  const reply = responder.writeMessage(utf8("welcome"));
  reply[reply.length - 1] ^= 1;
  assert.throws(() => initiator.readMessage(reply), withCode("decrypt-failed"));
  assert.equal(initiator.remoteStatic, null);

  // A static key from a message whose payload fails to authenticate is not reported.
  const third = parties(XK);
  third.responder.readMessage(third.initiator.writeMessage());
  third.initiator.readMessage(third.responder.writeMessage());
  const last = third.initiator.writeMessage(utf8("bye"));
  last[last.length - 1] ^= 1;
  assert.throws(() => third.responder.readMessage(last), withCode("decrypt-failed"));
  assert.equal(third.responder.remoteStatic, null);
  assert.equal(third.responder.isFinished, false);
});

Deno.test("a prologue mismatch makes the handshake fail", () => {
  const { initiator, responder } = parties(XK, { prologue: utf8("other") });
  assert.throws(() => responder.readMessage(initiator.writeMessage()), withCode("decrypt-failed"));
});

Deno.test("a tampered transport ciphertext is rejected without desynchronising", () => {
  const { initiator, responder } = parties(IK);
  complete(initiator, responder);
  const [a, b] = [initiator.split(), responder.split()];
  const ct = a.encrypt(utf8("pay 10 EUR"));
  for (let i = 0; i < ct.length; i++) {
    const bad = ct.slice();
    bad[i] ^= 0x04;
    assert.throws(() => b.decrypt(bad), withCode("decrypt-failed"));
  }
  assert.throws(() => b.decrypt(ct.subarray(0, TAG_LENGTH - 1)), withCode("message-too-short"));
  assert.deepEqual(b.decrypt(ct), utf8("pay 10 EUR"));
  assert.throws(() => b.decrypt(ct), withCode("decrypt-failed")); // replay
});

Deno.test("messages over 65535 bytes are rejected on write and on read", () => {
  const { initiator, responder } = parties(XK);
  // XK message 1 carries e (32) and an encrypted payload (+16).
  const limit = MAX_MESSAGE_LENGTH - 32 - TAG_LENGTH;
  assert.throws(
    () => initiator.writeMessage(new Uint8Array(limit + 1)),
    withCode("message-too-long"),
  );
  assert.throws(
    () => responder.readMessage(new Uint8Array(MAX_MESSAGE_LENGTH + 1)),
    withCode("message-too-long"),
  );
  assert.throws(
    () => responder.readMessage(new Uint8Array(32 + 15)),
    withCode("message-too-short"),
  );
  const max = initiator.writeMessage(new Uint8Array(limit));
  assert.equal(max.length, MAX_MESSAGE_LENGTH);
  assert.equal(responder.readMessage(max).length, limit);
  complete(initiator, responder);
  const [a, b] = [initiator.split(), responder.split()];
  assert.throws(
    () => a.encrypt(new Uint8Array(MAX_TRANSPORT_PLAINTEXT + 1)),
    withCode("message-too-long"),
  );
  assert.throws(
    () => b.decrypt(new Uint8Array(MAX_MESSAGE_LENGTH + 1)),
    withCode("message-too-long"),
  );
  const big = a.encrypt(new Uint8Array(MAX_TRANSPORT_PLAINTEXT));
  assert.equal(big.length, MAX_MESSAGE_LENGTH);
  assert.equal(b.decrypt(big).length, MAX_TRANSPORT_PLAINTEXT);
});

Deno.test("rekey keeps both sides in sync, in each direction independently", () => {
  const { initiator, responder } = parties(XK);
  complete(initiator, responder);
  const [a, b] = [initiator.split(), responder.split()];
  exchange(a, b, 1);
  a.rekeySend();
  b.rekeyRecv();
  exchange(a, b, 2);
  b.rekeySend();
  a.rekeyRecv();
  exchange(a, b, 2);
  // One-sided rekey breaks the direction it affects.
  a.rekeySend();
  assert.throws(() => b.decrypt(a.encrypt(utf8("x"))), withCode("decrypt-failed"));
  assert.deepEqual(a.decrypt(b.encrypt(utf8("still fine"))), utf8("still fine"));
});

Deno.test("low-order public keys are rejected in the handshake", () => {
  const zero = new Uint8Array(32);
  // As a pre-message remote static: the initiator's es DH fails.
  const { initiator } = parties(XK, { remoteStatic: zero });
  assert.throws(() => initiator.writeMessage(), withCode("invalid-public-key"));
  // As a received ephemeral: the responder's es DH fails.
  const { responder } = parties(XK);
  assert.throws(() => responder.readMessage(new Uint8Array(48)), withCode("invalid-public-key"));
});

Deno.test("wrong turns, missing keys and a finished handshake give typed errors", () => {
  const { initiator, responder } = parties(XK);
  assert.throws(() => responder.writeMessage(), withCode("invalid-state"));
  assert.throws(() => initiator.readMessage(new Uint8Array(64)), withCode("invalid-state"));
  assert.throws(() => initiator.split(), withCode("invalid-state"));
  complete(initiator, responder);
  assert.throws(() => initiator.writeMessage(), withCode("invalid-state"));
  assert.throws(
    () => createHandshake({ protocolName: XK, initiator: true, staticPrivate: random(32) }),
    withCode("missing-key"),
  );
  assert.throws(
    () => createHandshake({ protocolName: XK, initiator: false }),
    withCode("missing-key"),
  );
  assert.throws(
    () =>
      createHandshake({
        protocolName: "Noise_XX_25519_ChaChaPoly_BLAKE2s",
        initiator: true,
        staticPrivate: random(32),
        remoteStatic: random(32),
      }),
    withCode("invalid-argument"),
  );
  assert.throws(
    () => createHandshake({ protocolName: "Noise_XK_448_ChaChaPoly_BLAKE2s", initiator: true }),
    withCode("unsupported-protocol"),
  );
});

Deno.test("NN needs no static keys and leaves remoteStatic null", () => {
  const protocolName = "Noise_NN_25519_ChaChaPoly_BLAKE2s";
  const initiator = createHandshake({ protocolName, initiator: true, backend: "noble" });
  const responder = createHandshake({ protocolName, initiator: false });
  complete(initiator, responder);
  assert.equal(initiator.remoteStatic, null);
  exchange(initiator.split(), responder.split());
});

Deno.test("a psk can be set late, e.g. from a KEM, and a wrong psk fails the handshake", () => {
  const protocolName = "Noise_XKpsk3_25519_ChaChaPoly_BLAKE2s";
  const psk = random(32);
  const { initiator, responder } = parties(protocolName);
  responder.readMessage(initiator.writeMessage());
  initiator.readMessage(responder.writeMessage());
  assert.throws(() => initiator.setPsk(2, psk), withCode("invalid-argument"));
  assert.throws(() => initiator.setPsk(3, new Uint8Array(16)), withCode("invalid-argument"));
  initiator.setPsk(3, psk);
  responder.setPsk(3, psk);
  responder.readMessage(initiator.writeMessage());
  assert.equal(responder.isFinished, true);
  exchange(initiator.split(), responder.split());

  const other = parties(protocolName, { psks: [random(32)] }, { psks: [random(32)] });
  other.responder.readMessage(other.initiator.writeMessage());
  other.initiator.readMessage(other.responder.writeMessage());
  assert.throws(
    () => other.responder.readMessage(other.initiator.writeMessage()),
    withCode("decrypt-failed"),
  );

  const missing = parties(protocolName);
  missing.responder.readMessage(missing.initiator.writeMessage());
  missing.initiator.readMessage(missing.responder.writeMessage());
  assert.throws(() => missing.initiator.writeMessage(), withCode("missing-key"));
});

Deno.test("a destroyed transport refuses to work rather than sending in clear", () => {
  const { initiator, responder } = parties(IK);
  complete(initiator, responder);
  const a = initiator.split();
  a.destroy();
  assert.throws(() => a.encrypt(utf8("secret")), withCode("invalid-state"));
});
