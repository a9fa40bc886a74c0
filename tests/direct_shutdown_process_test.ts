/**
 * SIGTERM to a real `serve` process in direct accept mode (`Deno.serve` on
 * the port) with long-lived sessions open that will not end on their own: an
 * NDJSON long-poll session (an HTTP/2 stream, upstream and downstream) whose
 * client never reads, a WebSocket session whose client never acknowledges,
 * and a WebSocket whose client never answers the server's close frame. The
 * process exits 0 (its shutdown finished; the watchdog would exit 1) once the
 * grace period is over, every client sees its connection end, and every
 * message the sender had an Ack for reaches each recipient after a restart on
 * the same data directory: frames still queued for (or unacknowledged by) a
 * cut session stay durable for its next connection.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { befriend, partyOf } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { type ServerProcess, spawnServer } from "./helpers/process.ts";
import { makeHello, RawConnection, rawHandshake, type RawSession, within } from "./helpers/raw.ts";

const GRACE_MS = 1_000;
/**
 * A failure bound, not a speed claim: the exit must come from the shutdown sequence, which
 * ends at the grace deadline plus the backends' close, well before the serve command's
 * watchdog (5 × grace + 5 s, exit code 1).
 */
const EXIT_BOUND_MS = GRACE_MS + 6_000;
const CHANNEL = 91;
/** Messages of this many bytes, enough of them to fill the stalled stream's buffers. */
const TEXT_BYTES = 4_096;
const MESSAGES = 2_500;

const SERVER_ENV = {
  COMMUCAT_SERVER_ACCEPT: "direct",
  COMMUCAT_SHUTDOWN_GRACE_MS: String(GRACE_MS),
  // The recipients that never read or acknowledge must stay connected (not be cut off as slow
  // consumers) so that shutdown, not the outbound bound, is what ends their sessions.
  COMMUCAT_OUTBOUND_QUEUE_FRAMES: "100000",
};

const encoder = new TextEncoder();

/** Opens `/connect` in `mode` and completes an honest handshake for `device` by hand. */
async function rawSession(
  server: ServerProcess,
  device: TestDevice,
  mode: "long-poll" | "websocket",
): Promise<RawSession> {
  const conn = await within(RawConnection.open(server, mode), `a ${mode} connection`);
  return await within(rawHandshake(conn, makeHello(server, device)), `the ${mode} handshake`);
}

/**
 * The message texts `session` was sent until its connection ended, and how it ended: `end`
 * (an orderly end of the stream) or the error a cut connection gave (a reset).
 */
async function textsUntilEnd(session: RawSession): Promise<{ texts: string[]; ended: string }> {
  const texts: string[] = [];
  try {
    for (let f = await session.next(); f; f = await session.next()) {
      if (f.type === FrameType.Msg) texts.push(fromUtf8(f.payload).slice(0, 16).trim());
    }
    return { texts, ended: "end" };
  } catch (error) {
    // `within` names what it waited for: a stream still open is a failure, not an end.
    if (/gave up waiting/.test(String(error))) throw error;
    return { texts, ended: String(error).split("\n")[0] };
  }
}

/** A WebSocket upgrade of `/connect` on a raw TLS connection; silent after the 101. */
async function silentWebSocket(server: ServerProcess): Promise<Deno.TlsConn> {
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port: server.port,
    caCerts: [server.certificatePem],
    alpnProtocols: ["http/1.1"],
  });
  await conn.write(encoder.encode(
    "GET /connect HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\n" +
      "connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "sec-websocket-version: 13\r\n\r\n",
  ));
  let head = "";
  const buf = new Uint8Array(1);
  while (!head.endsWith("\r\n\r\n")) {
    const n = await within(conn.read(buf), "the upgrade's response");
    if (n === null) throw new Error(`closed after ${JSON.stringify(head)}`);
    head += String.fromCharCode(buf[0]);
  }
  assert.match(head, /^HTTP\/1\.1 101 /);
  return conn;
}

/** Resolves once the peer ends `conn` (EOF or a reset). */
async function readToEnd(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  while ((await conn.read(buf).catch(() => null)) !== null) { /* what the server still sent */ }
}

/** A message text: its index first (what the test compares), padded to {@link TEXT_BYTES}. */
const textOf = (i: number) => `m${i}`.padEnd(16) + "x".repeat(TEXT_BYTES - 16);

Deno.test({
  name: "direct accept: SIGTERM cuts never-ending long-poll and WebSocket sessions at the grace " +
    "end, exits 0, and their queued messages stay durable",
  // Spawns two real server processes; their pipes are closed by stop()/kill().
  async fn() {
    const first = await spawnServer({ env: SERVER_ENV });
    const dataDir = first.dataDir;
    const pollDevice = newDevice("poll"); // long-poll, never reads after the handshake
    const socketDevice = newDevice("socket"); // WebSocket, reads but never acknowledges
    try {
      const poll = await rawSession(first, pollDevice, "long-poll");
      const socket = await rawSession(first, socketDevice, "websocket");
      const silent = await silentWebSocket(first);
      const sender = await within(
        CommuCatClient.connect(connectOptions(first, newDevice("sender"))),
        "the sender",
      );
      for (const peer of [partyOf(poll.ack), partyOf(socket.ack)]) {
        await within(befriend(first, sender, peer), "a friendship");
      }
      await within(
        sender.join(CHANNEL, [pollDevice.deviceId, socketDevice.deviceId]),
        "the join",
      );

      // Every message is acknowledged to the sender (durable) before the signal.
      const acked = new Set<string>();
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < MESSAGES; i++) {
        const settled = within(sender.send(CHANNEL, textOf(i)), `the Ack of m${i}`)
          .then(() => void acked.add(`m${i}`));
        inFlight.add(settled);
        void settled.then(() => inFlight.delete(settled), () => {});
        if (inFlight.size >= 32) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      assert.equal(acked.size, MESSAGES);
      sender.close();
      await within(sender.finished, "the sender to close");

      const exited = first.child.status;
      first.child.kill("SIGTERM");
      const sentAt = performance.now();
      // The WebSocket clients see their connections end (the silent one never answers the
      // server's close frame); the long-poll client still reads nothing.
      const ends = Promise.all([textsUntilEnd(socket), readToEnd(silent)]);
      const status = await within(exited, "the process to exit", EXIT_BOUND_MS);
      const tookMs = Math.round(performance.now() - sentAt);
      assert.equal(status.code, 0, `SIGTERM exits 0 (not the watchdog):\n${first.stderr()}`);
      assert.doesNotMatch(first.stderr(), /shutdown did not finish in time/);
      const [fromSocket] = await within(ends, "the WebSocket clients to see their end");
      // Only now does the long-poll client read: what reached it, then the end of its stream.
      const fromPoll = await within(textsUntilEnd(poll), "the long-poll client to see its end");
      silent.close();
      await poll.conn.close().catch(() => {});
      await socket.conn.close().catch(() => {});
      // The long-poll client never read: the server could not have written everything to it, so
      // messages were still queued when its session was cut (they must come back below).
      assert.ok(
        fromPoll.texts.length < MESSAGES,
        `the long-poll stream was never backed up (${fromPoll.texts.length} of ${MESSAGES} read)`,
      );

      // Restart on the same data directory: every acknowledged message reaches each recipient
      // (neither acknowledged anything, so everything is owed again: at-least-once).
      const second = await spawnServer({ dataDir, env: SERVER_ENV });
      try {
        for (const [name, device] of [["poll", pollDevice], ["socket", socketDevice]] as const) {
          const client = await within(
            CommuCatClient.connect(connectOptions(second, device)),
            `${name} to connect again`,
          );
          const missing = new Set(acked);
          while (missing.size > 0) {
            const frame = await within(client.next(), `${name}: ${missing.size} messages`);
            assert.ok(frame, `${name}: closed with ${missing.size} acknowledged messages missing`);
            if (frame.type === FrameType.Msg) {
              missing.delete(fromUtf8(frame.payload).slice(0, 16).trim());
            }
          }
          client.close();
          await within(client.finished, `${name} to close`);
        }
        console.log(
          `direct shutdown: exit ${tookMs} ms after SIGTERM (grace ${GRACE_MS} ms); before the ` +
            `stop the long-poll client got ${fromPoll.texts.length} (then: ${fromPoll.ended}) and ` +
            `the WebSocket client ${fromSocket.texts.length} (then: ${fromSocket.ended}) of ` +
            `${MESSAGES}; all ${MESSAGES} delivered to both after restart`,
        );
        assert.equal(await second.stop(), 0);
      } finally {
        await second.kill().catch(() => {});
      }
    } finally {
      // Cleanup: the process has usually exited already and the directory may be gone.
      await first.kill().catch(() => {});
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
