/**
 * The CommuCat client SDK: connects in any mode with XK or IK (or their
 * post-quantum hybrids XKhfs / IKhfs, checking the server's pinned ML-DSA-65
 * signature), proves the device key, then sends and receives CCP-1 frames over Noise with
 * request/ack correlation and cumulative delivery acks. The handshake is in
 * ./handshake.ts, the sealing of what it sends in ./sealer.ts, its delivered
 * frames' way to the application in ./inbox.ts.
 *
 * @module
 */
import { type Backend, type EpochTransport, MAX_TRANSPORT_PLAINTEXT, utf8 } from "../crypto/mod.ts";
import {
  type ConnectMode,
  controlFrame,
  type DecodedFrame,
  encodedFrameLength,
  type Frame,
  FrameDecoder,
  FrameType,
  isRekeyBody,
  paddedFramesEnd,
  type PaddingPolicy,
  type UnitDecoder,
} from "../proto/mod.ts";
import { DELIVERY_ACK, deliveryAckLength } from "./delivery_ack.ts";
import { type ClientChannel, openChannel } from "./channel.ts";
import { connectThroughTransports } from "./transport.ts";
import { MultipathChannel, type PathSlotStatus } from "./multipath.ts";
import { AckClock } from "./ack_clock.ts";
import { RequestWaiters } from "./request_waiters.ts";
import { type Established, handshake } from "./handshake.ts";
import { type ClientOptions, ServerError, type SessionInfo } from "./options.ts";
import { UnitSealer } from "./sealer.ts";
import { Inbox } from "./inbox.ts";
import { RekeyAnswer } from "./rekey_answer.ts";

export * from "./options.ts";
export { choosePattern, verifyServerSignature } from "./handshake.ts";

/** A delivery ack goes out this long after the first unacknowledged delivery, if nothing carried it. */
const ACK_DELAY_MS = 20;
/** ...or at once when this many deliveries are unacknowledged (bounds the server's resend list). */
const ACK_EVERY_FRAMES = 64;
/** The delivery-ack delay of every client in this process, on one timer. */
const deliveryAckClock = new AckClock(ACK_DELAY_MS);
/** The control body of a frame that has none (read only). */
const NO_CONTROL: Record<string, unknown> = Object.freeze({});

/** A connected device. */
export class CommuCatClient {
  readonly session: SessionInfo;
  readonly mode: ConnectMode;
  #channel: ClientChannel;
  #transport: EpochTransport;
  readonly #backend: Backend;
  /** Answers the server's rekeys. */
  readonly #rekey: RekeyAnswer;
  #units: UnitDecoder;
  /**
   * Payloads are views of the unit's plaintext (not a copy per frame: ~0.4 KiB
   * of a load client's garbage per delivery). Safe: each unit is decrypted in
   * place in the chunk it came in, which is ours (`ClientChannel.chunks`: the
   * channel never writes or reuses a chunk it handed out) or the unit
   * decoder's copy; frames split across units come from the frame decoder's
   * own buffer and are copies.
   */
  #frames = new FrameDecoder({ viewPayloads: true });
  #sequence: number;
  #waiters = new RequestWaiters();
  readonly #inbox = new Inbox();
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
  readonly #sealer: UnitSealer;

  /** @internal Use {@link CommuCatClient.connect}: runs the session `handshake` established. */
  constructor(established: Established, options: ClientOptions) {
    const { channel, transport, source } = established;
    this.#backend = options.backend ?? "native";
    this.#padding = established.padding;
    this.#onUnit = options.onUnit;
    this.#acknowledgeDeliveries = options.acknowledgeDeliveries ?? true;
    this.#channel = channel;
    this.#transport = transport;
    this.#units = established.units;
    this.#sealer = new UnitSealer(transport, channel, this.#padding, this.#onUnit);
    this.session = established.session;
    this.mode = channel.mode;
    this.#sequence = established.nextSequence;
    this.#lastServerSequence = established.lastServerSequence;
    this.#rekey = new RekeyAnswer({
      transport,
      backend: this.#backend,
      closed: this.#isClosed,
      send: (payload) => this.sendFrame(FrameType.KeyUpdate, 0, payload),
      fail: (error) => this.#fail(error),
    });
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
      const established = await Promise.race([
        handshake(channel, options),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("handshake timed out")), timeoutMs);
        }),
      ]);
      const client = new CommuCatClient(established, options);
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
    return this.#sealer.lastSentAt;
  }

  /** Seals up to two frames into one transport message and writes it (see {@link UnitSealer.seal}). */
  #seal(
    first: Frame | null,
    firstSequence: number,
    firstLength: number,
    second: Frame | null,
    secondSequence: number,
    secondLength: number,
    voice: boolean,
  ): void {
    this.#sealer.seal(
      first,
      firstSequence,
      firstLength,
      second,
      secondSequence,
      secondLength,
      voice,
      this.#ackUpTo,
    );
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
    this.#inbox.setHandler(handler);
  }

  /**
   * The next frame the server delivered (not an Ack/Error answering us); null
   * once closed. Its payload may be a view of its transport message (see
   * {@link setDeliveryHandler}).
   */
  next(): Promise<DecodedFrame | null> {
    return this.#inbox.next(this.#isClosed);
  }

  readonly #isClosed = (): boolean => this.#closed;

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
    this.#inbox.wake();
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

  /**
   * Reads one downstream chunk: its units, their frames, each handed on as it
   * is found (no array of units per chunk nor of frames per unit). Throws on
   * a decrypt or decode failure.
   */
  #read(chunk: Uint8Array): void {
    this.#units.pushEach(chunk, this.#readUnit);
  }

  /** One transport message: decrypted, unpadded, its frames handled in order. */
  readonly #readUnit = (unit: Uint8Array): void => {
    this.#onUnit?.("in", unit.length);
    // In place: a fresh plaintext buffer per unit was ~0.4 KiB of garbage per delivery (two
    // units: the Msg and the Ack of ours) and an allocation on the native heap each.
    const plaintext = this.#transport.decryptInPlace(unit);
    const end = this.#padding ? paddedFramesEnd(plaintext) : plaintext.length;
    this.#frames.pushEach(plaintext, end, this.#readFrame);
  };

  readonly #readFrame = (frame: DecodedFrame): void => this.#onFrame(frame);

  #readingDone = false;

  /** The downstream ended (or failed): the connection is over. */
  #endReading(): void {
    if (this.#readingDone) return;
    this.#readingDone = true;
    this.#closed = true;
    this.#cancelAck();
    this.#waiters.rejectAll(new Error("connection closed"));
    this.#channel.close();
    this.#inbox.wake();
  }

  #onFrame(frame: DecodedFrame): void {
    this.#lastServerSequence = frame.sequence;
    const control = (frame.control ?? NO_CONTROL) as Record<string, unknown>;
    if (frame.type === FrameType.KeyUpdate && isRekeyBody(frame.channel, control)) {
      this.#rekey.onMessage(control);
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
    this.#inbox.deliver(frame);
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
}
