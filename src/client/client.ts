/**
 * The CommuCat client SDK: connects in any mode with XK or IK (or their
 * post-quantum hybrids XKhfs / IKhfs, checking the server's pinned ML-DSA-65
 * signature), proves the device key, then sends and receives CCP-1 frames over Noise with
 * request/ack correlation and cumulative delivery acks.
 *
 * @module
 */
import {
  answerRekey,
  type Backend,
  certificateToJson,
  concatBytes,
  createHandshake,
  type DeviceCertificate,
  EpochTransport,
  fromHex,
  fromUtf8,
  type Handshake,
  hybridOf,
  MAX_TRANSPORT_PLAINTEXT,
  nativeEd25519,
  nobleEd25519,
  parseCertificate,
  proveDeviceKey,
  serverSignatureMessage,
  SESSION_PATTERN_NAMES,
  type SessionPattern,
  sessionPattern,
  toHex,
  utf8,
  zkpContext,
  zkpToJson,
} from "../crypto/mod.ts";
import { TAG_LENGTH, x25519PublicFromPrivate } from "../crypto/noise/mod.ts";
import {
  ACK_UPTO_CAPABILITY,
  authFrame as authMessage,
  type ConnectMode,
  controlFrame,
  type DecodedFrame,
  decodeFrame,
  DEFAULT_PADDING,
  DEFAULT_PROLOGUE,
  encodedFrameLength,
  encodeFrame,
  encodeUnit,
  type Frame,
  FrameDecoder,
  FrameType,
  helloFrame,
  isRekeyBody,
  PAD1_CAPABILITY,
  paddedFramesEnd,
  paddedLength,
  type PaddingPolicy,
  parseRekeyBody,
  REKEY_CAPABILITY,
  rekeyBody,
  stripPadding,
  UnitDecoder,
  varintLength,
  writeFrame,
  writeVarint,
} from "../proto/mod.ts";
import { ML_DSA_65, pqSuite } from "../crypto/pq/mod.ts";
import { DELIVERY_ACK, deliveryAckLength, writeDeliveryAck } from "./delivery_ack.ts";
import { type ClientChannel, openChannel, type WebSocketChannelOpener } from "./channel.ts";
import {
  type ClientTransport,
  connectThroughTransports,
  type FallbackOptions,
} from "./transport.ts";
import {
  type FecCodec,
  type FecPolicy,
  MULTIPATH_CAPABILITY,
  parseFecPolicy,
  PathKeys,
  RAPTORQ_CAPABILITY,
} from "../multipath/mod.ts";
import { MultipathChannel, type PathSlotStatus, type PathTarget } from "./multipath.ts";
import { AckClock } from "./ack_clock.ts";
import { RequestWaiters } from "./request_waiters.ts";

/** A delivery ack goes out this long after the first unacknowledged delivery, if nothing carried it. */
const ACK_DELAY_MS = 20;
/** ...or at once when this many deliveries are unacknowledged (bounds the server's resend list). */
const ACK_EVERY_FRAMES = 64;
/** The delivery-ack delay of every client in this process, on one timer. */
const deliveryAckClock = new AckClock(ACK_DELAY_MS);
/** The control body of a frame that has none (read only). */
const NO_CONTROL: Record<string, unknown> = Object.freeze({});

/** Everything needed to connect one device. */
export interface ClientOptions {
  /** Server base URL, e.g. `https://localhost:8443`. */
  url: string;
  /** Path of the connect endpoint (default `/connect`; a CDN may forward another). */
  connectPath?: string;
  mode?: ConnectMode;
  /** A session pattern name from `SESSION_PATTERN_NAMES` (default: the first, `XK`). */
  pattern?: string;
  /** The server's Noise static public key (from /api/server-info). */
  serverStatic: Uint8Array;
  /**
   * The server's pinned ML-DSA-65 public key (`pq_signing_public` of the key
   * version in /api/server-info). A hybrid handshake whose signature does
   * not verify against it is refused.
   */
  serverPqPublic?: Uint8Array;
  /**
   * `prefer` (default): use the hybrid of `pattern` when the server's PQ key
   * is pinned; `require`: refuse to connect without a hybrid handshake;
   * `off`: classical only.
   */
  pq?: "off" | "prefer" | "require";
  /** The server's domain (bound into the key proof). */
  domain: string;
  deviceId: string;
  /** The device's 32-byte Ed25519 seed (`private_key` of its profile). */
  devicePrivateKey: Uint8Array;
  user?: { handle?: string; id?: string; display_name?: string; avatar_url?: string };
  /** A certificate issued by the server's device CA (object or its JSON text). */
  certificate?: DeviceCertificate | Record<string, unknown> | string;
  prologue?: string;
  caCerts?: string[];
  /**
   * An HTTP client to reuse (closed by the caller). Binary, SSE and long-poll sessions over HTTPS
   * share its one HTTP/2 connection: past `MAX_STREAMS_PER_HTTP_CLIENT` open at once the connect
   * fails with `HttpClientFullError` (./channel.ts) instead of waiting behind the server's stream
   * cap. Without it, `caCerts` gives each session a client of its own.
   */
  httpClient?: Deno.HttpClient;
  /** Opens `websocket`-mode channels instead of the platform's `WebSocket` (./channel.ts). */
  webSocketChannel?: WebSocketChannelOpener;
  /** Fails the connect after this long (default 15 s). */
  timeoutMs?: number;
  /**
   * Ordered ways to reach the server (./transport.ts; concrete ones in
   * ./transports/): each is tried in turn with `transportFallback`'s
   * per-attempt timeout (its `preferred` first). Absent: straight to `url`.
   */
  transports?: readonly ClientTransport[];
  /** How the `transports` are tried (timeout, the one to try first, attempt reports). */
  transportFallback?: FallbackOptions;
  /**
   * Acknowledge what the server delivers (default true). False for a short
   * connection that does not show deliveries (a one-shot `send`): nothing it
   * receives is acknowledged, so the server keeps every delivered frame in
   * the device's offline queue for its next connection (PROTOCOL.md §4).
   */
  acknowledgeDeliveries?: boolean;
  /**
   * Run a multipath session (PROTOCOL.md "Multipath"): the modes of the
   * paths to attach besides the first (`mode`). Empty or absent: one path.
   */
  paths?: PathTarget[];
  /** FEC policy of a multipath session (`auto`, `off`, `duplicate`, `raptorq[:overhead]`). */
  fecPolicy?: string;
  /** RaptorQ codec for a multipath session (without it, `raptorq` means duplicate). */
  fec?: FecCodec;
  /** Path changes of a multipath session (a path lost, attached again…). */
  onPaths?(paths: PathSlotStatus[]): void;
  /**
   * Crypto backend for the device key and Noise (default `native`,
   * node:crypto). Browsers use `noble`: the web bundle has no node:crypto.
   */
  backend?: Backend;
  /**
   * Length padding inside the Noise plaintext (PROTOCOL.md §2 "Padding";
   * default `classes`): asks for `pad1` unless `off`, and pads what it sends
   * once the server's Ack lists `pad1`.
   */
  padding?: PaddingPolicy;
  /**
   * Sees the size of every transport message (ciphertext bytes, without the
   * unit's length prefix) once the session is established: a capture point
   * for padding tests and the load tool's overhead figures.
   */
  onUnit?: (direction: "in" | "out", bytes: number) => void;
}

/** What the server said in its Ack. */
export interface SessionInfo {
  sessionId: string;
  userId: string;
  ack: Record<string, unknown>;
}

/** A server reply to one of our frames was an Error. */
export class ServerError extends Error {
  readonly code: string;
  readonly body: Record<string, unknown>;
  constructor(body: Record<string, unknown>) {
    super(`${body.error}: ${body.detail ?? ""}`);
    this.name = "ServerError";
    this.code = String(body.error);
    this.body = body;
  }
}

/** Push-mode reading (the channel has `listen`): what the handshake read past its last message. */
interface PushSource {
  first: Uint8Array | null;
}

/** A connected device. */
export class CommuCatClient {
  readonly session: SessionInfo;
  readonly mode: ConnectMode;
  #channel: ClientChannel;
  #transport: EpochTransport;
  readonly #backend: Backend;
  /** Set between sending a rekey `reply` and reading the server's `done`. */
  #rekeyDone: (() => void) | null = null;
  #rekeyAnswering = false;
  #units: UnitDecoder;
  /**
   * Payloads are views of the unit's plaintext (not a copy per frame: ~0.4 KiB
   * of a load client's garbage per delivery). Safe: `decrypt` returns a fresh
   * buffer per unit that nothing else writes; frames split across units come
   * from the decoder's own buffer and are copies.
   */
  #frames = new FrameDecoder({ viewPayloads: true });
  #sequence: number;
  #waiters = new RequestWaiters();
  #inbox: DecodedFrame[] = [];
  #inboxWake: (() => void) | null = null;
  #closed = false;
  #lastServerSequence = 0;
  /**
   * Delivered frames (those that reach {@link next}) since our last delivery
   * ack. Only they need one: the server keeps nothing else for redelivery —
   * its Acks and Errors answering our requests and its rekey frames are not
   * tracked (PROTOCOL.md §4 "Sequences and acknowledgements") — so a session
   * that only hears replies sends no delivery acks at all.
   */
  #unackedDeliveries = 0;
  /** The `upTo` of the delivery Ack being sealed ({@link #takeDeliveryAck}). */
  #ackUpTo = 0;
  /** True while this client waits on {@link deliveryAckClock}. */
  #ackScheduled = false;
  /** Its callback there: one function for the client's life, not one per delay. */
  readonly #ackDue = (): void => {
    this.#ackScheduled = false;
    this.#flushAck();
  };
  #acknowledgeDeliveries: boolean;
  #closedPromise: Promise<void>;
  /** Set when the server's Ack accepted `pad1`: what we send is padded, what we read stripped. */
  readonly #padding: PaddingPolicy | null;
  readonly #onUnit: ((direction: "in" | "out", bytes: number) => void) | undefined;
  #lastSentAt = performance.now();

  /** @internal Use {@link CommuCatClient.connect}. */
  constructor(
    channel: ClientChannel,
    transport: EpochTransport,
    units: UnitDecoder,
    source: AsyncIterator<Uint8Array> | PushSource,
    session: SessionInfo,
    nextSequence: number,
    lastServerSequence: number,
    acknowledgeDeliveries = true,
    backend: Backend = "native",
    padding: PaddingPolicy | null = null,
    onUnit?: (direction: "in" | "out", bytes: number) => void,
  ) {
    this.#backend = backend;
    this.#padding = padding;
    this.#onUnit = onUnit;
    this.#acknowledgeDeliveries = acknowledgeDeliveries;
    this.#channel = channel;
    this.#transport = transport;
    this.#units = units;
    this.session = session;
    this.mode = channel.mode;
    this.#sequence = nextSequence;
    this.#lastServerSequence = lastServerSequence;
    this.#closedPromise = "next" in source ? this.#readLoop(source) : this.#listen(source.first);
  }

  /** Connects and completes the handshake. Rejects with the server's Error on refusal. */
  static async connect(options: ClientOptions): Promise<CommuCatClient> {
    if (options.transports?.length) {
      const { transports, transportFallback, ...direct } = options;
      return (await connectThroughTransports(direct, transports, transportFallback)).client;
    }
    const channel = await openChannel({
      url: options.url,
      connectPath: options.connectPath,
      mode: options.mode ?? "binary",
      caCerts: options.caCerts,
      httpClient: options.httpClient,
      webSocketChannel: options.webSocketChannel,
    });
    const timeoutMs = options.timeoutMs ?? 15_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const client = await Promise.race([
        handshake(channel, options),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("handshake timed out")), timeoutMs);
        }),
      ]);
      client.#reachedVia = { url: options.url, httpClient: options.httpClient };
      return client;
    } catch (error) {
      channel.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #reachedVia: { url: string; httpClient?: Deno.HttpClient } = { url: "" };

  /**
   * The base URL and HTTP client this connection reached the server with
   * (a transport's route): the session's REST calls should go the same way.
   * The HTTP client is the caller's (or the route's) and closes with it.
   */
  get reachedVia(): { url: string; httpClient?: Deno.HttpClient } {
    return this.#reachedVia;
  }

  /** The paths of a multipath session and where they stand; null for a one-path session. */
  get paths(): PathSlotStatus[] | null {
    return this.#channel instanceof MultipathChannel ? this.#channel.status() : null;
  }

  /** The multipath channel of a multipath session (counters, waiting for paths); else null. */
  get multipath(): MultipathChannel | null {
    return this.#channel instanceof MultipathChannel ? this.#channel : null;
  }

  /** True once the connection ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Completed in-session rekeys (PROTOCOL.md §3): the epoch of our sending key. */
  get rekeys(): number {
    return this.#transport.epoch;
  }

  /** The padding policy in use (the server accepted `pad1`), or null. */
  get padding(): PaddingPolicy | null {
    return this.#padding;
  }

  /** Resolves when the connection ends. */
  get finished(): Promise<void> {
    return this.#closedPromise;
  }

  /**
   * Sends a raw frame; returns the sequence used. A delivery ack that is due
   * rides along in the same Noise message (one seal, one write).
   */
  sendFrame(type: FrameType, channel: number, payload: Uint8Array): number {
    if (this.#closed) throw new Error("connection closed");
    const frame: Frame = { type, channel, sequence: 0, payload };
    const ackDue = this.#acknowledgeDeliveries && type !== FrameType.Ack &&
      this.#unackedDeliveries > 0;
    // Checked before anything is sent or counted (encodeFrame's errors).
    const length = encodedFrameLength(frame, this.#sequence + (ackDue ? 1 : 0));
    const voice = type === FrameType.VoiceFrame;
    if (!ackDue) {
      const sequence = this.#sequence++;
      this.#seal(frame, sequence, length, null, 0, 0, voice);
      return sequence;
    }
    this.#takeDeliveryAck();
    const ackSequence = this.#sequence++;
    const ackLength = deliveryAckLength(this.#ackUpTo, ackSequence);
    const sequence = this.#sequence++;
    if (ackLength + length <= MAX_TRANSPORT_PLAINTEXT) {
      this.#seal(DELIVERY_ACK, ackSequence, ackLength, frame, sequence, length, voice);
    } else {
      this.#seal(DELIVERY_ACK, ackSequence, ackLength, null, 0, 0, false);
      this.#seal(frame, sequence, length, null, 0, 0, voice);
    }
    return sequence;
  }

  /**
   * Sends one transport message of padding only (no frame: the server
   * ignores it): cover traffic, e.g. in the gaps of a call's audio. Voice
   * sized under the `classes` policy. Throws without `pad1`.
   */
  sendCover(): void {
    if (this.#closed) throw new Error("connection closed");
    if (this.#padding === null) throw new Error("cover traffic needs pad1 (padding is off)");
    this.#seal(null, 0, 0, null, 0, 0, true);
  }

  /** `performance.now()` of the last transport message sent (cover traffic fills the gaps). */
  get lastSentAt(): number {
    return this.#lastSentAt;
  }

  /**
   * Seals one transport message of up to two frames (with their sequences and
   * encoded lengths) and writes it: the unit's length, the frames, the zero
   * padding when `pad1` is on (`voice` picks the voice class) and the tag,
   * all in one buffer sealed in place (no array per frame, per padding, per
   * ciphertext and per unit).
   */
  #seal(
    first: Frame | null,
    firstSequence: number,
    firstLength: number,
    second: Frame | null,
    secondSequence: number,
    secondLength: number,
    voice: boolean,
  ): void {
    const plain = firstLength + secondLength;
    const padded = this.#padding ? paddedLength(plain, this.#padding, voice) : plain;
    const sealedLength = padded + TAG_LENGTH;
    const unit = new Uint8Array(varintLength(sealedLength) + sealedLength);
    const start = writeVarint(sealedLength, unit, 0);
    let at = start;
    if (first === DELIVERY_ACK) at = writeDeliveryAck(this.#ackUpTo, firstSequence, unit, at);
    else if (first !== null) at = writeFrame(first, firstSequence, unit, at);
    if (second !== null) writeFrame(second, secondSequence, unit, at);
    // The padding is the buffer's zeros (the end marker included).
    if (this.#transport.encryptInPlace(unit, start, padded) !== sealedLength) {
      throw new Error("the session has no sending key");
    }
    this.#lastSentAt = performance.now();
    this.#onUnit?.("out", sealedLength);
    this.#channel.write(unit);
  }

  /**
   * Takes the cumulative delivery Ack for everything received so far: its
   * `upTo` in {@link #ackUpTo}, sealed as {@link DELIVERY_ACK} (written in
   * place, see ./delivery_ack.ts).
   */
  #takeDeliveryAck(): void {
    this.#unackedDeliveries = 0;
    this.#ackUpTo = this.#lastServerSequence;
  }

  /**
   * Sends a frame and waits for the server's Ack (or rejects with its Error).
   * Resolves with the Ack's body plus `sequence`, the request's own sequence
   * (a cumulative `upto` Ack's `ack` may be a later one).
   */
  request(
    type: FrameType,
    channel: number,
    payload: Uint8Array | unknown,
  ): Promise<Record<string, unknown> & { sequence: number }> {
    const bytes = payload instanceof Uint8Array
      ? payload
      : controlFrame(type, channel, 0, payload).payload;
    const sequence = this.sendFrame(type, channel, bytes);
    return new Promise((resolve, reject) => this.#waiters.add(sequence, resolve, reject));
  }

  /** Joins (or creates) the route of `channel` with `members`. */
  join(
    channel: number,
    members: string[] = [],
    options: { relay?: boolean; groupId?: string } = {},
  ) {
    const body: Record<string, unknown> = { members, relay: options.relay ?? false };
    if (options.groupId) body.group_id = options.groupId;
    return this.request(FrameType.Join, channel, body);
  }

  /** Leaves the route of `channel`. */
  leave(channel: number) {
    return this.request(FrameType.Leave, channel, {});
  }

  /** Sends an opaque message on `channel` (text is UTF-8 encoded). */
  send(channel: number, message: Uint8Array | string) {
    return this.request(
      FrameType.Msg,
      channel,
      typeof message === "string" ? utf8(message) : message,
    );
  }

  #deliveryHandler: ((frame: DecodedFrame) => void) | null = null;

  /**
   * Hands every delivered frame (what {@link next} returns) to `handler` as
   * it is read, instead of queuing it for `next()` (frames already queued go
   * to it first); `null` queues them again. Synchronous, in the reading
   * turn: no promise per frame. A handler that throws does not end the
   * connection (its error is reported with `reportError`). A frame's payload
   * may be a view of the transport message it came in (`slice()` it to keep
   * a small payload without the rest of that message).
   */
  setDeliveryHandler(handler: ((frame: DecodedFrame) => void) | null): void {
    this.#deliveryHandler = handler;
    if (handler === null) return;
    // One at a time: the handler may set another handler (or null) meanwhile.
    while (this.#deliveryHandler === handler && this.#inbox.length > 0) {
      const frame = this.#inbox.shift()!;
      try {
        handler(frame);
      } catch (error) {
        reportError(error);
      }
    }
  }

  /**
   * The next frame the server delivered (not an Ack/Error answering us); null
   * once closed. Its payload may be a view of its transport message (see
   * {@link setDeliveryHandler}).
   */
  async next(): Promise<DecodedFrame | null> {
    while (true) {
      const frame = this.#inbox.shift();
      if (frame) return frame;
      if (this.#closed) return null;
      await new Promise<void>((resolve) => (this.#inboxWake = resolve));
      this.#inboxWake = null;
    }
  }

  /**
   * Acknowledges what arrived (unless `acknowledgeDeliveries` is false), ends
   * the upstream and waits (at most `timeoutMs`) for the server to close:
   * nothing acknowledged is delivered again.
   */
  async closeGracefully(timeoutMs = 2_000): Promise<void> {
    if (this.#closed) return;
    this.#flushAck();
    this.#cancelAck();
    this.#channel.end();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#closedPromise,
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    this.close();
  }

  /** Closes at once (a delivery ack still in flight may be lost: see {@link closeGracefully}). */
  close(): void {
    if (this.#closed) return;
    this.#flushAck();
    this.#cancelAck();
    this.#closed = true;
    this.#channel.close();
    this.#wake();
  }

  async #readLoop(iterator: AsyncIterator<Uint8Array>): Promise<void> {
    try {
      while (true) {
        const { value, done } = await iterator.next();
        if (done) break;
        this.#read(value);
      }
    } catch {
      // Decrypt or decode failure: the session is unusable.
    } finally {
      this.#endReading();
    }
  }

  /**
   * Push mode (a channel with `listen`): each chunk is read in the channel's
   * own callback, with no promise per chunk; `first` is what the handshake
   * read past its last message.
   */
  #listen(first: Uint8Array | null): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        this.#endReading();
        resolve();
      };
      const onChunk = (chunk: Uint8Array) => {
        if (this.#readingDone) return;
        try {
          this.#read(chunk);
        } catch {
          end(); // Decrypt or decode failure: the session is unusable.
        }
      };
      if (first !== null) onChunk(first);
      if (!this.#readingDone) this.#channel.listen!(onChunk, end);
    });
  }

  /** Reads one downstream chunk: its units, their frames. Throws on a decrypt or decode failure. */
  #read(chunk: Uint8Array): void {
    // Indexed loops: an array iterator each per chunk and message otherwise.
    const units = this.#units.push(chunk);
    for (let u = 0; u < units.length; u++) {
      this.#onUnit?.("in", units[u].length);
      const plaintext = this.#transport.decrypt(units[u]);
      const end = this.#padding ? paddedFramesEnd(plaintext) : plaintext.length;
      const frames = this.#frames.push(plaintext, end);
      for (let f = 0; f < frames.length; f++) this.#onFrame(frames[f]);
    }
  }

  #readingDone = false;

  /** The downstream ended (or failed): the connection is over. */
  #endReading(): void {
    if (this.#readingDone) return;
    this.#readingDone = true;
    this.#closed = true;
    this.#cancelAck();
    this.#waiters.rejectAll(new Error("connection closed"));
    this.#channel.close();
    this.#wake();
  }

  #onFrame(frame: DecodedFrame): void {
    this.#lastServerSequence = frame.sequence;
    const control = (frame.control ?? NO_CONTROL) as Record<string, unknown>;
    if (frame.type === FrameType.KeyUpdate && isRekeyBody(frame.channel, control)) {
      this.#onRekey(control);
      return;
    }
    if (frame.type === FrameType.Ack && typeof control.ack === "number") {
      if (control.upto === true) {
        // Cumulative: every request up to `ack` without an answer of its own was routed.
        this.#waiters.resolveUpTo(control.ack, control);
        return;
      }
      if (this.#waiters.resolve(control.ack, control)) return;
    }
    if (frame.type === FrameType.Error && typeof control.sequence === "number") {
      if (this.#waiters.reject(control.sequence, new ServerError(control))) return;
    }
    this.#unackedDeliveries++;
    this.#scheduleAck();
    const handler = this.#deliveryHandler;
    if (handler === null) {
      this.#inbox.push(frame);
      this.#wake();
      return;
    }
    try {
      handler(frame);
    } catch (error) {
      // The application's error, not the connection's.
      reportError(error);
    }
  }

  /**
   * A server rekey message (PROTOCOL.md §3): `init` is answered with `reply`
   * (our sending key switches right after it), `done` switches our receiving
   * key before the next transport message is read. Anything out of order
   * ends the connection: the keys of the two sides would no longer match.
   */
  #onRekey(control: Record<string, unknown>): void {
    let message;
    try {
      message = parseRekeyBody(control);
      if (message.step === "reply") throw new Error("rekey: the server sent a reply");
      if (message.step === "done" && this.#rekeyDone === null) {
        throw new Error("rekey: done without a pending exchange");
      }
      if (message.step === "init" && (this.#rekeyAnswering || this.#rekeyDone !== null)) {
        throw new Error("rekey: init while an exchange is running");
      }
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    if (message.step === "done") {
      this.#rekeyDone!();
      this.#rekeyDone = null;
      return;
    }
    this.#rekeyAnswering = true;
    answerRekey(this.#transport, message.noise, this.#backend).then(
      ({ reply, afterReply, onDone }) => {
        this.#rekeyAnswering = false;
        if (this.#closed) return;
        this.sendFrame(
          FrameType.KeyUpdate,
          0,
          controlFrame(FrameType.KeyUpdate, 0, 0, rekeyBody("reply", reply)).payload,
        );
        afterReply();
        this.#rekeyDone = onDone;
      },
      (error) => this.#fail(new Error(`rekey: ${(error as Error).message}`)),
    );
  }

  /** Ends the connection because of `error`; pending requests reject with it. */
  #fail(error: Error): void {
    this.#waiters.rejectAll(error);
    this.close();
  }

  #scheduleAck(): void {
    if (!this.#acknowledgeDeliveries) return;
    if (this.#unackedDeliveries >= ACK_EVERY_FRAMES) {
      this.#flushAck();
      return;
    }
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    deliveryAckClock.schedule(this.#ackDue);
  }

  #cancelAck(): void {
    if (!this.#ackScheduled) return;
    this.#ackScheduled = false;
    deliveryAckClock.cancel(this.#ackDue);
  }

  /** Sends the delivery ack now, unless one is not due (or it already rode along with a frame). */
  #flushAck(): void {
    if (!this.#acknowledgeDeliveries) return;
    if (this.#closed || this.#unackedDeliveries === 0) return;
    try {
      this.#takeDeliveryAck();
      const sequence = this.#sequence++;
      const length = deliveryAckLength(this.#ackUpTo, sequence);
      this.#seal(DELIVERY_ACK, sequence, length, null, 0, 0, false);
    } catch { /* closed meanwhile */ }
  }

  #wake(): void {
    this.#inboxWake?.();
  }
}

/**
 * The pattern to use under the client's PQ policy: the hybrid of the named
 * one when the server's ML-DSA key is pinned (unless `off`). Throws when the
 * policy or the pattern needs a pin that is missing.
 */
export function choosePattern(options: ClientOptions): SessionPattern {
  const named = sessionPattern(options.pattern ?? SESSION_PATTERN_NAMES[0]);
  const mode = options.pq ?? "prefer";
  const pinned = options.serverPqPublic !== undefined;
  if (pinned && options.serverPqPublic!.length !== ML_DSA_65.publicKeyLength) {
    throw new Error(`serverPqPublic must be ${ML_DSA_65.publicKeyLength} bytes (ML-DSA-65)`);
  }
  if (mode === "off") {
    if (named.hybrid) throw new Error(`pattern ${named.name} is post-quantum but pq is "off"`);
    return named;
  }
  const hybrid = hybridOf(named.name);
  if (hybrid !== undefined && pinned) return hybrid;
  if (mode === "require" || named.hybrid) {
    throw new Error(
      `a post-quantum handshake needs the server's pinned ML-DSA-65 key (serverPqPublic; ` +
        `the CLI profile's server_pq_public, from /api/server-info)`,
    );
  }
  return named;
}

/**
 * Refuses a hybrid reply (message 2 payload, just read by `noise`) whose
 * ML-DSA-65 signature is missing or not by the pinned key.
 */
export async function verifyServerSignature(
  noise: Handshake,
  payload: Uint8Array,
  pinned: Uint8Array,
  backend: Backend = "native",
): Promise<void> {
  let signature: unknown;
  try {
    signature = (JSON.parse(fromUtf8(payload)) as { pq_signature?: unknown }).pq_signature;
  } catch {
    signature = undefined;
  }
  if (typeof signature !== "string" || !/^[0-9a-f]+$/.test(signature)) {
    throw new Error("the server's hybrid handshake reply carries no ML-DSA-65 signature");
  }
  const ok = await pqSuite(backend === "noble" ? "noble" : "webcrypto").signer.verify(
    pinned,
    serverSignatureMessage(noise.payloadHash!),
    fromHex(signature),
  );
  if (!ok) {
    throw new Error(
      "the server's ML-DSA-65 signature does not match the pinned key: refusing the connection",
    );
  }
}

async function handshake(channel: ClientChannel, options: ClientOptions): Promise<CommuCatClient> {
  const pattern = choosePattern(options);
  const padding = options.padding ?? DEFAULT_PADDING;
  const askPadding = padding.mode !== "off";
  const privateKey = options.devicePrivateKey;
  const backend = options.backend ?? "native";
  const devicePublic = (backend === "noble" ? nobleEd25519 : nativeEd25519).publicFromSeed(
    privateKey,
  );
  const clientStatic = x25519PublicFromPrivate(privateKey, backend);
  const noise: Handshake = createHandshake({
    backend,
    protocolName: pattern.protocolName,
    initiator: true,
    prologue: utf8(options.prologue ?? DEFAULT_PROLOGUE),
    staticPrivate: privateKey,
    remoteStatic: options.serverStatic,
  });
  const context = zkpContext(options.domain, options.deviceId, devicePublic, clientStatic);
  const proof = proveDeviceKey({ privateSeed: privateKey, publicKey: devicePublic, context });
  // A first message that authenticates us (IK) is final for the server: a timestamp makes a
  // replay stale.
  const msg1 = await noise.writeMessageAsync(
    pattern.clientStaticInFirstMessage
      ? utf8(JSON.stringify({ timestamp: Date.now() }))
      : undefined,
  );
  let sequence = 1;
  channel.write(encodeFrame(helloFrame({
    pattern: pattern.name,
    supportedVersions: [1],
    deviceId: options.deviceId,
    handshake: toHex(msg1),
    clientStatic: toHex(clientStatic),
    devicePublic: toHex(devicePublic),
    zkp: zkpToJson(proof),
    // Cumulative Acks for our requests (PROTOCOL.md §4); an older server ignores this.
    // …and in-session rekeys the server starts (PROTOCOL.md §3), padding (§2) and,
    // when asked to, multipath sessions (PROTOCOL.md "Multipath").
    capabilities: [
      ACK_UPTO_CAPABILITY,
      REKEY_CAPABILITY,
      ...(askPadding ? [PAD1_CAPABILITY] : []),
      ...(options.paths?.length ? [MULTIPATH_CAPABILITY] : []),
      ...(options.paths?.length && options.fec ? [RAPTORQ_CAPABILITY] : []),
    ],
    user: options.user,
    certificateJson: options.certificate ? certificateText(options.certificate) : undefined,
  }, sequence++)));

  const units = new UnitDecoder();
  const iterator = channel.chunks[Symbol.asyncIterator]();
  const pending: Uint8Array[] = [];
  const nextBlob = async (): Promise<Uint8Array> => {
    while (pending.length === 0) {
      const { value, done } = await iterator.next();
      if (done) throw new Error("server closed the connection during the handshake");
      pending.push(...units.push(value));
    }
    return pending.shift()!;
  };
  const asPlainFrame = (blob: Uint8Array): DecodedFrame | null => {
    try {
      return decodeFrame(encodeUnit(blob))?.frame ?? null;
    } catch {
      return null;
    }
  };

  // Server Auth (Noise message 2), plaintext.
  const authFrame = asPlainFrame(await nextBlob());
  if (!authFrame) throw new Error("malformed handshake reply");
  if (authFrame.type === FrameType.Error) {
    throw new ServerError(authFrame.control as Record<string, unknown>);
  }
  if (authFrame.type !== FrameType.Auth) {
    throw new Error(`unexpected handshake reply type ${authFrame.type}`);
  }
  const auth = authFrame.control as { handshake: string; session: string };
  const reply = await noise.readMessageAsync(fromHex(auth.handshake));
  if (pattern.hybrid) {
    await verifyServerSignature(noise, reply, options.serverPqPublic!, backend);
  }
  if (!noise.isFinished) {
    const msg3 = noise.writeMessage();
    channel.write(encodeFrame(authMessage(authFrame.channel, sequence++, toHex(msg3))));
  }
  const transport = new EpochTransport(noise.split());
  // The Ack is the first transport message; a refusal here is a plaintext Error.
  const blob = await nextBlob();
  let ackFrame: DecodedFrame | null = null;
  try {
    // Having asked for pad1, the Ack may be padded already (an Ack that is not reads the same).
    const plaintext = transport.decrypt(blob);
    ackFrame = decodeFrame(askPadding ? stripPadding(plaintext) : plaintext)?.frame ?? null;
  } catch {
    const plain = asPlainFrame(blob);
    if (plain?.type === FrameType.Error) {
      throw new ServerError(plain.control as Record<string, unknown>);
    }
    throw new Error("could not read the server's Ack");
  }
  if (!ackFrame || ackFrame.type !== FrameType.Ack) throw new Error("expected the server's Ack");
  const ack = ackFrame.control as Record<string, unknown>;
  const session: SessionInfo = { sessionId: String(ack.session), userId: String(ack.user_id), ack };
  const padded = askPadding && Array.isArray(ack.capabilities) &&
    ack.capabilities.includes(PAD1_CAPABILITY);
  options.onUnit?.("in", blob.length);
  const multipath = options.paths?.length && ack.multipath
    ? multipathChannel(
      channel,
      { bodies: pending.splice(0), units },
      iterator,
      transport,
      ack,
      options,
    )
    : null;
  const client = new CommuCatClient(
    multipath ?? channel,
    transport,
    multipath ? new UnitDecoder() : units,
    multipath ? multipath.chunks[Symbol.asyncIterator]() : channel.listen
      // Push mode: the iterator is not read again (it waits at a yield, holding nothing).
      ? { first: pending.length > 0 ? concatAll(pending.splice(0)) : null }
      : {
        next: () =>
          pending.length > 0
            ? Promise.resolve({ value: concatAll(pending.splice(0)), done: false })
            : iterator.next(),
      },
    session,
    sequence,
    ackFrame.sequence,
    options.acknowledgeDeliveries ?? true,
    backend,
    padded ? padding : null,
    options.onUnit,
  );
  return client;
}

/**
 * The multipath channel over `channel` when the server's Ack carries
 * `multipath` (else null: an older server or multipath off, one path).
 */
function multipathChannel(
  channel: ClientChannel,
  rest: { bodies: Uint8Array[]; units: UnitDecoder },
  more: AsyncIterator<Uint8Array>,
  transport: EpochTransport,
  ack: Record<string, unknown>,
  options: ClientOptions,
): MultipathChannel | null {
  const offer = ack.multipath as { secret?: unknown; linger_ms?: unknown; max_paths?: unknown };
  if (!offer || typeof offer.secret !== "string") return null;
  const keys = PathKeys.derive(fromHex(offer.secret, 32), transport.handshakeHash);
  const maxExtra = typeof offer.max_paths === "number" ? offer.max_paths - 1 : 3;
  const policy: FecPolicy = parseFecPolicy(options.fecPolicy ?? "auto");
  return new MultipathChannel(channel, rest, more, keys, {
    url: options.url,
    caCerts: options.caCerts,
    httpClient: options.httpClient,
    webSocketChannel: options.webSocketChannel,
    extraPaths: options.paths!.slice(0, Math.max(0, maxExtra)),
    policy: { default: policy },
    fec: options.fec,
    lingerMs: typeof offer.linger_ms === "number" ? offer.linger_ms : 15_000,
    onPaths: options.onPaths,
  });
}

function concatAll(blobs: Uint8Array[]): Uint8Array {
  return concatBytes(...blobs.map(encodeUnit));
}

function certificateText(cert: DeviceCertificate | Record<string, unknown> | string): string {
  if (typeof cert === "string") return certificateToJson(parseCertificate(cert));
  return certificateToJson(parseCertificate(cert as object));
}
