/**
 * Test helpers that speak the `/connect` protocol by hand, so tests can send
 * what no well-behaved client would: a Hello builder whose every field can be
 * overridden, a downstream reader for plaintext frames and Noise units, a
 * hand-driven established session, and a healthy pair of SDK clients that
 * proves the rest of the server still works.
 */
import assert from "node:assert/strict";
import { type ClientChannel, CommuCatClient, openChannel } from "../../src/client/mod.ts";
import {
  createHandshake,
  fromHex,
  fromUtf8,
  type Handshake,
  type NoiseTransport,
  proveDeviceKey,
  publicFromSeed,
  toHex,
  utf8,
  x25519PublicFromPrivate,
  zkpContext,
  zkpToJson,
} from "../../src/crypto/mod.ts";
import {
  controlFrame,
  type DecodedFrame,
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameType,
  PAD1_CAPABILITY,
  stripPadding,
} from "../../src/proto/mod.ts";
import { encodeUnit, FrameDecoder, UnitDecoder } from "../../src/proto/mod.ts";
import type { ConnectMode } from "../../src/transport/mod.ts";
import { befriend } from "./api.ts";
import { connectOptions, newDevice, type ServerHandle, type TestDevice } from "./devices.ts";

/** Longest a test waits for anything; reaching it fails the test. */
export const WAIT_MS = 10_000;

/** Settles like `promise`, or rejects once `ms` passed (a failure, never an assertion on speed). */
export async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- Hello ----

/** What {@link makeHello} may get wrong on purpose. */
export interface HelloOptions {
  pattern?: "XK" | "IK";
  /** Server static key the Noise message 1 is made for (default: the server's). */
  serverStatic?: Uint8Array;
  /** Private key Noise actually uses (default: the device key, matching `client_static`). */
  noiseStaticPrivate?: Uint8Array;
  /** Context the key proof is made for (default: the one the server computes). */
  proofContext?: Uint8Array;
  /** IK message-1 payload timestamp (default: now). */
  timestamp?: number;
  /** Last word on the JSON fields, e.g. delete or retype one. */
  edit?: (fields: Record<string, unknown>) => void;
}

/** A Hello ready to send, with the initiator state that made it. */
export interface RawHello {
  fields: Record<string, unknown>;
  noise: Handshake;
  /** The plaintext Hello frame (sequence 1). */
  bytes: Uint8Array;
}

/** Builds a Hello for `device`; honest unless `options` say otherwise. */
export function makeHello(
  server: ServerHandle,
  device: TestDevice,
  options: HelloOptions = {},
): RawHello {
  const pattern = options.pattern ?? "XK";
  const devicePublic = publicFromSeed(device.privateKey);
  const clientStatic = x25519PublicFromPrivate(device.privateKey);
  const noise = createHandshake({
    protocolName: `Noise_${pattern}_25519_ChaChaPoly_BLAKE2s`,
    initiator: true,
    prologue: utf8("commucat"),
    staticPrivate: options.noiseStaticPrivate ?? device.privateKey,
    remoteStatic: options.serverStatic ?? server.noisePublic,
  });
  const context = options.proofContext ??
    zkpContext(server.domain, device.deviceId, devicePublic, clientStatic);
  const proof = proveDeviceKey({
    privateSeed: device.privateKey,
    publicKey: devicePublic,
    context,
  });
  const msg1 = noise.writeMessage(
    pattern === "IK"
      ? utf8(JSON.stringify({ timestamp: options.timestamp ?? Date.now() }))
      : undefined,
  );
  const fields: Record<string, unknown> = {
    pattern,
    supported_versions: [1],
    device_id: device.deviceId,
    handshake: toHex(msg1),
    client_static: toHex(clientStatic),
    device_public: toHex(devicePublic),
    zkp: zkpToJson(proof),
    user: { handle: device.handle },
  };
  options.edit?.(fields);
  return { fields, noise, bytes: helloFrame(fields) };
}

/** A plaintext Hello frame carrying `fields` as its JSON. */
export function helloFrame(fields: unknown, sequence = 1): Uint8Array {
  return encodeFrame({
    type: FrameType.Hello,
    channel: 0,
    sequence,
    payload: utf8(JSON.stringify(fields)),
  });
}

/** The client's Auth frame (XK Noise message 3) answering the server's Auth. */
export function authReply(hello: RawHello, serverAuth: DecodedFrame, sequence = 2): Uint8Array {
  assert.equal(serverAuth.type, FrameType.Auth, "expected the server's Auth");
  const control = serverAuth.control as { handshake: string };
  hello.noise.readMessage(fromHex(control.handshake));
  const msg3 = hello.noise.writeMessage();
  return encodeFrame(
    controlFrame(FrameType.Auth, serverAuth.channel, sequence, { handshake: toHex(msg3) }),
  );
}

// ---- connection ----

/** A `/connect` channel read by hand: nothing is read unless a test asks. */
export class RawConnection {
  #channel: ClientChannel;
  #endUpstream: (() => void) | null;
  #iterator: AsyncIterator<Uint8Array>;
  #reading: Promise<IteratorResult<Uint8Array>> | null = null;
  #units = new UnitDecoder();
  #items: Uint8Array[] = [];
  #ended = false;

  private constructor(channel: ClientChannel, endUpstream: (() => void) | null) {
    this.#channel = channel;
    this.#endUpstream = endUpstream;
    this.#iterator = channel.chunks[Symbol.asyncIterator]();
  }

  /** Opens `/connect` in `mode` through the SDK's carrier. */
  static async open(server: ServerHandle, mode: ConnectMode = "binary"): Promise<RawConnection> {
    const channel = await openChannel({ url: server.url, mode, caCerts: [server.certificatePem] });
    return new RawConnection(channel, null);
  }

  /**
   * Opens `/connect` in binary mode with an upstream the test can end on its
   * own (a half-close), keeping the downstream open to watch what follows.
   */
  static async openHalfClosable(server: ServerHandle): Promise<RawConnection> {
    const client = Deno.createHttpClient({ caCerts: [server.certificatePem] });
    let upstream!: ReadableStreamDefaultController<Uint8Array>;
    const abort = new AbortController();
    const response = await fetch(
      `${server.url}/connect?mode=binary`,
      {
        method: "POST",
        body: new ReadableStream<Uint8Array>({ start: (c) => (upstream = c) }),
        signal: abort.signal,
        duplex: "half",
        client,
      } as RequestInit & { client: Deno.HttpClient; duplex: "half" },
    );
    assert.equal(response.status, 200);
    const body = response.body!;
    let open = true;
    const endUpstream = () => {
      if (!open) return;
      open = false;
      upstream.close();
    };
    const channel: ClientChannel = {
      mode: "binary",
      write: (bytes) => open && upstream.enqueue(bytes),
      chunks: {
        async *[Symbol.asyncIterator]() {
          try {
            for await (const chunk of body) yield chunk;
          } catch {
            // Aborted by close(): the stream simply ends.
          } finally {
            client.close();
          }
        },
      },
      end: endUpstream,
      close: () => {
        endUpstream();
        abort.abort();
      },
    };
    return new RawConnection(channel, endUpstream);
  }

  /** Sends upstream bytes as they are. */
  write(bytes: Uint8Array): void {
    this.#channel.write(bytes);
  }

  /** Ends the upstream only (half-closable connections). */
  endUpstream(): void {
    assert.ok(this.#endUpstream, "open the connection with openHalfClosable()");
    this.#endUpstream();
  }

  /** The next downstream item (`varint(len) || body` minus the prefix), or null once closed. */
  async nextItem(what = "a downstream item"): Promise<Uint8Array | null> {
    while (this.#items.length === 0 && !this.#ended) {
      this.#reading ??= this.#iterator.next();
      const result = await within(this.#reading, what);
      this.#reading = null;
      if (result.done) this.#ended = true;
      else this.#items.push(...this.#units.push(result.value));
    }
    return this.#items.shift() ?? null;
  }

  /** The next plaintext (handshake-phase) frame; fails if the server closed first. */
  async nextPlain(what = "a plaintext frame"): Promise<DecodedFrame> {
    const item = await this.nextItem(what);
    assert.ok(item, `the server closed before sending ${what}`);
    return plainFrame(item);
  }

  /** The next plaintext frame, which must be an Error; returns its JSON. */
  async expectPlainError(): Promise<Record<string, unknown>> {
    const frame = await this.nextPlain("an Error frame");
    assert.equal(frame.type, FrameType.Error, `expected Error, got type ${frame.type}`);
    return frame.control as Record<string, unknown>;
  }

  /** Reads until the server closes; returns what came before the end. */
  async expectClosed(): Promise<Uint8Array[]> {
    const rest: Uint8Array[] = [];
    for (
      let item = await this.nextItem("the close");
      item;
      item = await this.nextItem("the close")
    ) {
      rest.push(item);
    }
    return rest;
  }

  /** Closes both directions and waits for the downstream to wind down. */
  async close(): Promise<void> {
    this.#channel.close();
    this.#ended = true;
    this.#reading ??= this.#iterator.next();
    await within(this.#reading.then(() => this.#iterator.return?.()), "the channel to close");
  }
}

/** Decodes a handshake-phase item (a plaintext frame body). */
export function plainFrame(item: Uint8Array): DecodedFrame {
  const decoded = decodeFrame(encodeUnit(item));
  assert.ok(decoded, "incomplete plaintext frame");
  return decoded.frame;
}

/** The plaintext Error then the close every failed handshake ends with; returns the Error's JSON. */
export async function expectRefused(conn: RawConnection): Promise<Record<string, unknown>> {
  const error = await conn.expectPlainError();
  assert.deepEqual(await conn.expectClosed(), [], "nothing may follow the Error");
  return error;
}

// ---- established session by hand ----

/** An established session driven by hand: any frame, any sequence. */
export class RawSession {
  readonly conn: RawConnection;
  readonly transport: NoiseTransport;
  readonly ack: Record<string, unknown>;
  /** Frames of a unit read but not returned yet. */
  #frames: DecodedFrame[] = [];

  constructor(conn: RawConnection, transport: NoiseTransport, ack: Record<string, unknown>) {
    this.conn = conn;
    this.transport = transport;
    this.ack = ack;
  }

  /** Encrypts `plaintext` (frame bytes, or anything) as one unit. */
  sealUnit(plaintext: Uint8Array): Uint8Array {
    return encodeUnit(this.transport.encrypt(plaintext));
  }

  /** Sends one frame in its own unit. */
  send(frame: Frame): void {
    this.conn.write(this.sealUnit(encodeFrame(frame)));
  }

  /** Sends a control frame with `body` as its JSON. */
  sendControl(type: FrameType, channel: number, sequence: number, body: unknown): void {
    this.send(controlFrame(type, channel, sequence, body));
  }

  /**
   * The next frame the server sent, decrypted; null once closed. A unit may
   * carry several whole frames (PROTOCOL.md §2 "Batching"), never part of one.
   */
  async next(what = "an encrypted frame"): Promise<DecodedFrame | null> {
    while (this.#frames.length === 0) {
      const unit = await this.conn.nextItem(what);
      if (!unit) return null;
      const frames = new FrameDecoder();
      const plaintext = this.transport.decrypt(unit);
      // A session that negotiated pad1 gets padded messages (PROTOCOL.md §2 "Padding").
      const padded = Array.isArray(this.ack.capabilities) &&
        this.ack.capabilities.includes(PAD1_CAPABILITY);
      this.#frames.push(...frames.push(padded ? stripPadding(plaintext) : plaintext));
      assert.equal(frames.buffered, 0, "a unit must carry whole frames");
    }
    return this.#frames.shift()!;
  }

  /** The next frame, which must be of `type`; returns its JSON. */
  async expect(type: FrameType, what: string): Promise<Record<string, unknown>> {
    const frame = await this.next(what);
    assert.ok(frame, `the server closed before sending ${what}`);
    assert.equal(frame.type, type, `${what}: got type ${frame.type} ${fromUtf8(frame.payload)}`);
    return frame.control as Record<string, unknown>;
  }
}

/** Sends `hello` and completes the handshake by hand (XK or IK); returns the session. */
export async function rawHandshake(conn: RawConnection, hello: RawHello): Promise<RawSession> {
  conn.write(hello.bytes);
  const auth = await conn.nextPlain("the server's Auth");
  if (hello.fields.pattern === "IK") {
    assert.equal(auth.type, FrameType.Auth, "expected the server's Auth");
    hello.noise.readMessage(fromHex((auth.control as { handshake: string }).handshake));
  } else {
    conn.write(authReply(hello, auth));
  }
  const transport = hello.noise.split();
  const unit = await conn.nextItem("the encrypted Ack");
  assert.ok(unit, "the server closed instead of sending its Ack");
  const ack = decodeFrame(transport.decrypt(unit))!.frame;
  assert.equal(ack.type, FrameType.Ack);
  assert.equal((ack.control as { handshake?: string }).handshake, "ok");
  return new RawSession(conn, transport, ack.control as Record<string, unknown>);
}

/** Opens a binary connection and completes an honest handshake for `device`. */
export async function openRawSession(
  server: ServerHandle,
  device: TestDevice,
  options: HelloOptions = {},
): Promise<RawSession> {
  const conn = await RawConnection.open(server);
  return await rawHandshake(conn, makeHello(server, device, options));
}

// ---- the bystanders ----

/** Two SDK clients sharing a channel, to show the server still serves everyone else. */
export interface HealthyPair {
  /** One message each way; fails if either does not arrive. */
  exchange(text: string): Promise<void>;
  close(): Promise<void>;
}

/** Connects a healthy pair on `channel` and checks it once. */
export async function healthyPair(server: ServerHandle, channel = 4242): Promise<HealthyPair> {
  const aliceDevice = newDevice("alice");
  const bobDevice = newDevice("bob");
  const alice = await within(CommuCatClient.connect(connectOptions(server, aliceDevice)), "alice");
  const bob = await within(CommuCatClient.connect(connectOptions(server, bobDevice)), "bob");
  await within(befriend(server, alice, bob), "the pair's friendship");
  await within(alice.join(channel, [bobDevice.deviceId]), "the pair's join");
  const pass = async (from: CommuCatClient, to: CommuCatClient, text: string) => {
    const ack = await within(from.send(channel, text), `the Ack for "${text}"`);
    assert.equal(typeof ack.ack, "number");
    const got = await within(to.next(), `"${text}" to arrive`);
    assert.ok(got, `the pair lost its connection before "${text}"`);
    assert.equal(got.type, FrameType.Msg);
    assert.equal(fromUtf8(got.payload), text);
  };
  const pair: HealthyPair = {
    async exchange(text) {
      await pass(alice, bob, `${text} (a→b)`);
      await pass(bob, alice, `${text} (b→a)`);
    },
    async close() {
      alice.close();
      bob.close();
      await within(Promise.all([alice.finished, bob.finished]), "the pair to close");
    },
  };
  await pair.exchange("before");
  return pair;
}
