/**
 * The SDK client's side of a 1:1 delivery alone (issue 18, "p99 at 50%":
 * the client's work dominates the tail): what one `CommuCatClient` costs per
 * message it sends and receives, without the server's work in the count
 * (bench/inprocess_pairs.ts measures both sides in one process).
 *
 * Each client talks to a scripted server over a push-mode channel (as the
 * load tool's WebSocket): a real Noise XK handshake with a responder here,
 * then, for the measured rounds, transport messages sealed before the rounds
 * start. In each round every client sends one 100-byte Msg (`send()`, its due
 * delivery ack riding along; the server side drops the bytes unread) and is
 * handed two chunks as the server writes them at the load tool's rates: the
 * partner's Msg, then the cumulative Ack `{"ack":n,"upto":true}` answering
 * its own request. Padding (`pad1`, the default) is on as in a load run.
 * A round ends when its microtasks have run (the answers' promise reactions):
 * no timer turn, so the count has no event-loop polling in it, whose number
 * follows the wall clock (runs under a loaded callgrind differed by a third).
 *
 *   scripts/deno run -A bench/inprocess_client.ts [--rounds 2000] [--clients 8] [--warm 300]
 *     [--profile out.cpuprofile] [--alloc-profile out.heapprofile]
 *   bench/callgrind_client.sh 200; bench/callgrind_client.sh 1200   # per delivery: (b − a) / 8000
 *   scripts/deno run -A bench/alloc_summary.ts out.heapprofile DELIVERIES
 *
 * Every request must be answered (the run fails otherwise): the Ack's `n`
 * is the request's sequence, computed ahead (see {@link requestSequence}).
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { type ClientChannel, CommuCatClient } from "../src/client/mod.ts";
import {
  createHandshake,
  EpochTransport,
  fromHex,
  generateDeviceKeys,
  type Handshake,
  toHex,
} from "../src/crypto/mod.ts";
import { x25519PublicFromPrivate } from "../src/crypto/noise/mod.ts";
import {
  ACK_UPTO_CAPABILITY,
  ackFrameLength,
  controlFrame,
  decodeFrame,
  DEFAULT_PADDING,
  DEFAULT_PROLOGUE,
  encodedFrameLength,
  encodeFrame,
  encodeUnit,
  type Frame,
  FrameType,
  PAD1_CAPABILITY,
  padPlaintext,
  writeAckFrame,
  writeFrame,
} from "../src/proto/mod.ts";
import {
  gate as gateAt,
  inspectorPost,
  startProfiler,
  stretchLongTimers,
} from "./inprocess_harness.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "2000" },
    warm: { type: "string", default: "300" },
    clients: { type: "string", default: "8" },
    profile: { type: "string" },
    "alloc-profile": { type: "string" },
    gate: { type: "string" },
  },
});
const ROUNDS = Number(args.values.rounds);
const WARM = Number(args.values.warm);
const CLIENTS = Number(args.values.clients);
const PAYLOAD_BYTES = 100;
const CHANNEL = 100;
const PROFILE = args.values.profile;
const ALLOC_PROFILE = args.values["alloc-profile"];
const GATE = args.values.gate;

const realSetTimeout = stretchLongTimers();

/** `,"upto":true}`: the tail of the server's cumulative Ack. */
const UPTO_TAIL = new TextEncoder().encode(',"upto":true}');
/** Our sequence after the handshake: Hello 1, our Auth (XK message 3) 2. */
const FIRST_SEQUENCE = 3;

/**
 * The sequence of the Msg a client sends in round `round` (0-based, warm-up
 * rounds included): the first goes alone, each later one after the delivery
 * ack it carries (the 20 ms ack delay never fires: stretchLongTimers).
 */
function requestSequence(round: number): number {
  return FIRST_SEQUENCE + 2 * round;
}

/** The server side of one client's session: the responder and what it seals. */
class ScriptedServer implements ClientChannel {
  readonly mode = "websocket" as const;
  /** As a WebSocket's send(): what the client writes is not kept (here: not even read). */
  readonly copiesWrites = true;
  readonly #staticPrivate: Uint8Array;
  #noise: Handshake | null = null;
  #transport: EpochTransport | null = null;
  #sequence = 1;
  /** Handshake replies, read through `chunks` until the client listens. */
  #queued: Uint8Array[] = [];
  #waiting: ((result: IteratorResult<Uint8Array>) => void) | null = null;
  #onChunk: ((bytes: Uint8Array) => void) | null = null;
  /** Bytes the client wrote once established (dropped unread). */
  written = 0;

  constructor(staticPrivate: Uint8Array) {
    this.#staticPrivate = staticPrivate;
  }

  readonly chunks: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        const queued = this.#queued.shift();
        if (queued) return Promise.resolve({ value: queued, done: false });
        return new Promise((resolve) => (this.#waiting = resolve));
      },
    }),
  };

  listen(onChunk: (bytes: Uint8Array) => void): void {
    this.#onChunk = onChunk;
  }

  write(bytes: Uint8Array): void {
    if (this.#transport !== null) {
      this.written += bytes.length;
      return;
    }
    const frame = decodeFrame(bytes)!.frame;
    const handshake = fromHex((frame.control as { handshake: string }).handshake);
    if (this.#noise === null) {
      this.#noise = createHandshake({
        protocolName: "Noise_XK_25519_ChaChaPoly_BLAKE2s",
        initiator: false,
        prologue: new TextEncoder().encode(DEFAULT_PROLOGUE),
        staticPrivate: this.#staticPrivate,
      });
      this.#noise.readMessage(handshake);
      const reply = toHex(this.#noise.writeMessage());
      this.#push(encodeFrame(
        controlFrame(FrameType.Auth, 0, this.#sequence++, { handshake: reply, session: "bench" }),
      ));
      return;
    }
    this.#noise.readMessage(handshake);
    this.#transport = new EpochTransport(this.#noise.split());
    const ack = controlFrame(FrameType.Ack, 0, 0, {
      handshake: "ok",
      session: "bench",
      user_id: "bench",
      capabilities: [ACK_UPTO_CAPABILITY, PAD1_CAPABILITY],
    });
    this.#push(this.seal([ack]));
  }

  end(): void {}
  close(): void {}

  /** Hands `chunk` to the client as the channel's read of it. */
  deliver(chunk: Uint8Array): void {
    this.#onChunk!(chunk);
  }

  /** One unit (length and ciphertext) of `frames`, numbered from the next server sequence. */
  seal(frames: Frame[]): Uint8Array {
    let length = 0;
    for (let f = 0; f < frames.length; f++) {
      length += encodedFrameLength(frames[f], this.#sequence + f);
    }
    const plain = new Uint8Array(length);
    let at = 0;
    for (const frame of frames) at = writeFrame(frame, this.#sequence++, plain, at);
    return encodeUnit(this.#transport!.encrypt(padPlaintext(plain, DEFAULT_PADDING)));
  }

  /** The cumulative Ack of our requests up to `upTo`, as one unit. */
  sealUpTo(upTo: number): Uint8Array {
    const sequence = this.#sequence++;
    const plain = new Uint8Array(ackFrameLength(upTo, sequence, UPTO_TAIL));
    writeAckFrame(upTo, sequence, UPTO_TAIL, plain, 0);
    return encodeUnit(this.#transport!.encrypt(padPlaintext(plain, DEFAULT_PADDING)));
  }

  #push(chunk: Uint8Array): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    if (waiting) waiting({ value: chunk, done: false });
    else this.#queued.push(chunk);
  }
}

/** The two chunks of each round, sealed ahead: the partner's Msg, then the Ack of ours. */
function sealRounds(server: ScriptedServer, from: number, count: number): Uint8Array[] {
  const payload = new Uint8Array(PAYLOAD_BYTES);
  const msg: Frame = { type: FrameType.Msg, channel: CHANNEL, sequence: 0, payload };
  const chunks: Uint8Array[] = [];
  for (let r = from; r < from + count; r++) {
    chunks.push(server.seal([msg]), server.sealUpTo(requestSequence(r)));
  }
  return chunks;
}

async function startAllocProfiler(): Promise<() => Promise<unknown>> {
  const post = inspectorPost();
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return async () => ((await post("HeapProfiler.stopSampling")) as { profile: unknown }).profile;
}

async function main(): Promise<void> {
  const serverPrivate = crypto.getRandomValues(new Uint8Array(32));
  const serverStatic = x25519PublicFromPrivate(serverPrivate);
  const servers: ScriptedServer[] = [];
  const clients: CommuCatClient[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const server = new ScriptedServer(serverPrivate);
    servers.push(server);
    clients.push(
      await CommuCatClient.connect({
        url: "https://bench.invalid",
        mode: "websocket",
        domain: "bench.invalid",
        serverStatic,
        deviceId: `bench-${i}`,
        devicePrivateKey: generateDeviceKeys().privateKey,
        pq: "off",
        webSocketChannel: () => Promise.resolve(server),
      }),
    );
  }
  let delivered = 0;
  let answered = 0;
  for (const client of clients) {
    client.setDeliveryHandler((frame) => {
      if (frame.type === FrameType.Msg) delivered++;
    });
  }
  const payload = new Uint8Array(PAYLOAD_BYTES);
  const onAnswer = () => void answered++;
  const onError = (error: unknown) => {
    throw error;
  };
  const run = async (rounds: Uint8Array[][]) => {
    for (let r = 0; r < rounds[0].length; r += 2) {
      for (let i = 0; i < clients.length; i++) {
        // As the load tool's agent: send() and its answer's promise, not awaited.
        clients[i].send(CHANNEL, payload).then(onAnswer, onError);
        servers[i].deliver(rounds[i][r]);
        servers[i].deliver(rounds[i][r + 1]);
      }
      await null; // after the reactions the round queued (microtasks run in order)
    }
  };
  await run(servers.map((server) => sealRounds(server, 0, WARM)));
  const measured = servers.map((server) => sealRounds(server, WARM, ROUNDS));
  delivered = answered = 0;
  for (const server of servers) server.written = 0;
  if (GATE) await gateAt(GATE, "ready", "go", realSetTimeout);
  const profiler = PROFILE ? await startProfiler() : null;
  const allocProfiler = ALLOC_PROFILE ? await startAllocProfiler() : null;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await run(measured);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (profiler) await Deno.writeTextFile(PROFILE!, JSON.stringify(await profiler()));
  if (allocProfiler) {
    await Deno.writeTextFile(ALLOC_PROFILE!, JSON.stringify(await allocProfiler()));
  }
  if (GATE) await gateAt(GATE, "done", "end", realSetTimeout);
  if (delivered !== ROUNDS * CLIENTS || answered !== ROUNDS * CLIENTS) {
    throw new Error(`delivered ${delivered}, answered ${answered} of ${ROUNDS * CLIENTS}`);
  }
  console.log(JSON.stringify({
    clients: CLIENTS,
    rounds: ROUNDS,
    delivered,
    ms: Math.round(ms),
    cpuUsPerDelivery: Number(((used.user + used.system) / delivered).toFixed(2)),
    bytesWrittenPerDelivery: Math.round(
      servers.reduce((sum, server) => sum + server.written, 0) / delivered,
    ),
  }));
  globalThis.setTimeout = realSetTimeout;
  for (const client of clients) client.close();
}

await main();
// Timers armed while stretched would hold the process open.
Deno.exit(0);
