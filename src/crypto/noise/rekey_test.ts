import assert from "node:assert/strict";
import { fromUtf8, utf8 } from "../bytes.ts";
import { NoiseError } from "./errors.ts";
import { createHandshake, generateKeyPair } from "./handshake.ts";
import { answerRekey, EpochTransport, RekeyInitiator } from "./rekey.ts";

/** Two ends of an established XKhfs session. */
async function session() {
  const server = generateKeyPair();
  const protocolName = "Noise_XKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s";
  const a = createHandshake({
    protocolName,
    initiator: true,
    staticPrivate: generateKeyPair().privateKey,
    remoteStatic: server.publicKey,
  });
  const b = createHandshake({ protocolName, initiator: false, staticPrivate: server.privateKey });
  await b.readMessageAsync(await a.writeMessageAsync());
  await a.readMessageAsync(await b.writeMessageAsync());
  b.readMessage(a.writeMessage());
  return { a: new EpochTransport(a.split()), b: new EpochTransport(b.split()) };
}

/** An ordered pipe of sealed messages, like the tunnel. */
class Pipe {
  readonly #queue: Uint8Array[] = [];
  send(from: EpochTransport, text: string): void {
    this.#queue.push(from.encrypt(utf8(text)));
  }
  sendBytes(from: EpochTransport, bytes: Uint8Array): void {
    this.#queue.push(from.encrypt(bytes));
  }
  receive(to: EpochTransport): string {
    return fromUtf8(to.decrypt(this.#queue.shift()!));
  }
  receiveBytes(to: EpochTransport): Uint8Array {
    return to.decrypt(this.#queue.shift()!);
  }
}

Deno.test("rekey: a hybrid exchange inside the tunnel switches keys; nothing in flight is lost or reordered", async () => {
  const { a, b } = await session();
  const ab = new Pipe();
  const ba = new Pipe();
  const oldB = b; // the same object; its keys move on
  ab.send(a, "a1");
  ba.send(b, "b1");
  const { rekey, init } = await RekeyInitiator.start(a);
  ab.send(a, "a2");
  ab.sendBytes(a, init);
  ab.send(a, "a3 (old key, after init)");
  ba.send(b, "b2 (old key, before reply)");

  assert.equal(ab.receive(b), "a1");
  assert.equal(ab.receive(b), "a2");
  const answer = await answerRekey(b, ab.receiveBytes(b));
  ba.sendBytes(b, answer.reply);
  answer.afterReply();
  ba.send(b, "b3 (new key)");
  assert.equal(ab.receive(b), "a3 (old key, after init)");

  assert.equal(ba.receive(a), "b1");
  assert.equal(ba.receive(a), "b2 (old key, before reply)");
  const switchSend = await rekey.onReply(ba.receiveBytes(a));
  assert.equal(ba.receive(a), "b3 (new key)");
  ab.send(a, "a4 (old key, before done)");
  ab.send(a, "done");
  switchSend();
  ab.send(a, "a5 (new key)");

  assert.equal(ab.receive(oldB), "a4 (old key, before done)");
  assert.equal(ab.receive(b), "done");
  answer.onDone();
  assert.equal(ab.receive(b), "a5 (new key)");
  assert.equal(a.epoch, 1);
  assert.equal(b.epoch, 1);
  assert.deepEqual(a.handshakeHash, b.handshakeHash);

  // The next rekey, started by the other side, binds to the new epoch.
  const second = await RekeyInitiator.start(b, "noble");
  const answer2 = await answerRekey(a, second.init);
  const switch2 = await second.rekey.onReply(answer2.reply);
  answer2.afterReply();
  ba.send(b, "done");
  switch2();
  assert.equal(ba.receive(a), "done");
  answer2.onDone();
  ab.send(a, "epoch 2");
  assert.equal(ab.receive(b), "epoch 2");
  ba.send(b, "epoch 2 back");
  assert.equal(ba.receive(a), "epoch 2 back");
});

Deno.test("rekey: old keys cannot read the new epoch; a tampered exchange changes nothing", async () => {
  const { a, b } = await session();
  const { rekey, init } = await RekeyInitiator.start(a);
  const tampered = init.slice();
  tampered[40] ^= 1; // inside e1 (NN message 1 carries it in the clear; the binding is the hash)
  const bad = await answerRekey(b, tampered);
  // The replies disagree on the transcript: the initiator's read fails its AEAD.
  await assert.rejects(rekey.onReply(bad.reply), NoiseError);
  // Nothing switched: the session still works on its old keys.
  assert.equal(fromUtf8(b.decrypt(a.encrypt(utf8("still here")))), "still here");
  assert.equal(fromUtf8(a.decrypt(b.encrypt(utf8("and back")))), "and back");
  // A real rekey: until the initiator switches, it cannot read the new epoch.
  const { a: a2, b: b2 } = await session();
  const start = await RekeyInitiator.start(a2);
  const answer = await answerRekey(b2, start.init);
  answer.afterReply();
  const sealed = b2.encrypt(utf8("new epoch"));
  assert.throws(() => a2.decrypt(sealed), NoiseError);
  const switchSend = await start.rekey.onReply(answer.reply);
  assert.equal(fromUtf8(a2.decrypt(sealed)), "new epoch");
  switchSend();
  answer.onDone();
  assert.equal(fromUtf8(b2.decrypt(a2.encrypt(utf8("both ways")))), "both ways");
});
