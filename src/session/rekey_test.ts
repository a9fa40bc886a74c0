import assert from "node:assert/strict";
import { answerRekey, createHandshake, EpochTransport, generateKeyPair } from "../crypto/mod.ts";
import {
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameType,
  parseRekeyBody,
  rekeyBody,
} from "../proto/mod.ts";
import { CoarseSchedule } from "./coarse_schedule.ts";
import { SessionRekey } from "./rekey.ts";

/** Two ends of an established XK session (server, client). */
function session() {
  const server = generateKeyPair();
  const protocolName = "Noise_XK_25519_ChaChaPoly_BLAKE2s";
  const c = createHandshake({
    protocolName,
    initiator: true,
    staticPrivate: generateKeyPair().privateKey,
    remoteStatic: server.publicKey,
  });
  const s = createHandshake({ protocolName, initiator: false, staticPrivate: server.privateKey });
  s.readMessage(c.writeMessage());
  c.readMessage(s.writeMessage());
  s.readMessage(c.writeMessage());
  return { server: new EpochTransport(s.split()), client: new EpochTransport(c.split()) };
}

/** A SessionRekey whose side records what it sends, refuses and fails. */
function serverRekey(transport: EpochTransport) {
  const sent: Frame[] = [];
  const refused: string[] = [];
  const failed: string[] = [];
  const rekey = new SessionRekey(transport, { afterMessages: 2, afterMs: 0 }, {
    sendRekey: (frame) => sent.push(frame),
    refuseRekey: (detail) => refused.push(detail),
    failRekey: (detail) => failed.push(detail),
  }, new CoarseSchedule(1));
  return { rekey, sent, refused, failed };
}

/** A client's KeyUpdate on channel 0 with `body`, as the server decodes it. */
function clientFrame(body: unknown): DecodedFrame {
  const payload = new TextEncoder().encode(JSON.stringify(body));
  return decodeFrame(encodeFrame({ type: FrameType.KeyUpdate, channel: 0, sequence: 9, payload }))!
    .frame;
}

/** The JSON body of a frame the server sent. */
function bodyOf(frame: Frame): unknown {
  return JSON.parse(new TextDecoder().decode(frame.payload));
}

/** Waits until `check` holds (the exchange runs on promises). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(check());
}

Deno.test("session rekey: starts after N messages; a reply completes it once, a replay is refused", async () => {
  const { server, client } = session();
  const { rekey, sent, refused, failed } = serverRekey(server);
  client.decrypt(server.encrypt(new Uint8Array(1)));
  rekey.check();
  assert.equal(sent.length, 0, "one message is below the threshold of 2");
  client.decrypt(server.encrypt(new Uint8Array(1)));
  rekey.check();
  rekey.check(); // one exchange at a time
  await until(() => sent.length === 1);
  const init = parseRekeyBody(bodyOf(sent[0]));
  assert.equal(init.step, "init");
  const answer = await answerRekey(client, init.noise);
  const reply = clientFrame(rekeyBody("reply", answer.reply));
  const finishing = rekey.receive(reply);
  rekey.check(); // still over the count, but an exchange is finishing: no second one
  await finishing;
  assert.equal(sent.length, 2);
  assert.deepEqual(parseRekeyBody(bodyOf(sent[1])), {
    step: "done",
    noise: new Uint8Array(0),
  });
  assert.equal(rekey.epoch, 1);
  answer.afterReply();
  answer.onDone();
  // Both directions work under the new keys.
  assert.deepEqual(client.decrypt(server.encrypt(new Uint8Array([7]))), new Uint8Array([7]));
  assert.deepEqual(server.decrypt(client.encrypt(new Uint8Array([8]))), new Uint8Array([8]));

  await rekey.receive(reply); // replayed
  assert.deepEqual(failed, []);
  assert.match(refused[0], /no rekey is waiting for a reply/);
  assert.equal(rekey.epoch, 1);
  rekey.stop();
});

Deno.test("session rekey: malformed messages are refused; a bad reply to a running exchange fails the session", async () => {
  const { server, client } = session();
  const { rekey, sent, refused, failed } = serverRekey(server);
  for (const body of [{ rekey: "bogus" }, { rekey: "reply" }, { rekey: "reply", noise: "%%" }]) {
    await rekey.receive(clientFrame(body));
  }
  await rekey.receive(clientFrame(rekeyBody("init", new Uint8Array(8))));
  assert.equal(refused.length, 4);
  assert.match(refused[0], /rekey must be "init", "reply" or "done"/);
  assert.match(refused[1], /needs "noise"/);
  assert.match(refused[2], /not valid base64/);
  assert.match(refused[3], /the server starts rekeys/);

  client.decrypt(server.encrypt(new Uint8Array(1)));
  client.decrypt(server.encrypt(new Uint8Array(1)));
  rekey.check();
  await until(() => sent.length === 1);
  await rekey.receive(clientFrame(rekeyBody("reply", new Uint8Array(1152))));
  assert.equal(failed.length, 1);
  assert.match(failed[0], /rekey reply rejected/);
  assert.equal(rekey.epoch, 0, "no key switched");
  rekey.stop();
});

Deno.test("session rekey: the time trigger starts an exchange with no traffic at all", async () => {
  const { server } = session();
  const sent: Frame[] = [];
  const schedule = new CoarseSchedule(1);
  const rekey = new SessionRekey(server, { afterMessages: 0, afterMs: 5 }, {
    sendRekey: (frame) => sent.push(frame),
    refuseRekey: () => {},
    failRekey: () => {},
  }, schedule);
  try {
    assert.equal(schedule.size, 1, "the time trigger is an entry of the shared schedule");
    await until(() => sent.length === 1);
    assert.equal(parseRekeyBody(bodyOf(sent[0])).step, "init");
    assert.equal(schedule.size, 0, "a fired trigger leaves the schedule");
  } finally {
    rekey.stop();
    schedule.stop();
  }
});

Deno.test("session rekey: a stopped session leaves the shared schedule and is never started", async () => {
  const schedule = new CoarseSchedule(1);
  const sent: Frame[] = [];
  const side = {
    sendRekey: (frame: Frame) => sent.push(frame),
    refuseRekey: () => {},
    failRekey: () => {},
  };
  const a = new SessionRekey(session().server, { afterMessages: 0, afterMs: 5 }, side, schedule);
  const b = new SessionRekey(session().server, { afterMessages: 0, afterMs: 5 }, side, schedule);
  assert.equal(schedule.size, 2, "both sessions share the one schedule");
  a.stop();
  assert.equal(schedule.size, 1, "stop() removes the entry (a closed session is not retained)");
  try {
    await until(() => sent.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(sent.length, 1, "only the session still open rekeyed");
  } finally {
    b.stop();
    schedule.stop();
  }
});

Deno.test("session rekey: a completed exchange re-arms the time trigger in the schedule", async () => {
  const { server, client } = session();
  const schedule = new CoarseSchedule(1);
  const sent: Frame[] = [];
  const rekey = new SessionRekey(server, { afterMessages: 0, afterMs: 60_000 }, {
    sendRekey: (frame) => sent.push(frame),
    refuseRekey: () => {},
    failRekey: () => {},
  }, schedule);
  try {
    rekey.due(); // as the schedule would after 60 s (it leaves the schedule)
    assert.equal(schedule.size, 0);
    await until(() => sent.length === 1);
    const answer = await answerRekey(client, parseRekeyBody(bodyOf(sent[0])).noise);
    await rekey.receive(clientFrame(rekeyBody("reply", answer.reply)));
    assert.equal(rekey.epoch, 1);
    assert.equal(schedule.size, 1, "the new keys' age is scheduled again");
  } finally {
    rekey.stop();
    assert.equal(schedule.size, 0);
    schedule.stop();
  }
});
