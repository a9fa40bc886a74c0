/**
 * The server's side of the in-session rekey (PROTOCOL.md §3, "In-session
 * rekey"): the server starts a fresh NNhfs exchange once the current keys
 * carried `afterMessages` transport messages in either direction or are
 * `afterMs` old, and switches its keys at the points `rekey.ts` in the Noise
 * layer fixes. The server initiates because the policy is the operator's
 * (one config for every session) and the client then only answers.
 *
 * @module
 */
import { type Backend, type EpochTransport, RekeyInitiator } from "../crypto/mod.ts";
import type { CoarseSchedule, DueItem } from "./coarse_schedule.ts";
import {
  controlFrame,
  type DecodedFrame,
  type Frame,
  FrameType,
  parseRekeyBody,
  REKEY_CHANNEL,
  rekeyBody,
} from "../proto/mod.ts";

/** When to rekey; 0 turns a trigger off. */
export interface RekeyPolicy {
  /** Transport messages under one key (either direction) before a rekey. */
  afterMessages: number;
  /** Age of the keys, milliseconds, before a rekey. */
  afterMs: number;
}

/**
 * What a rekey needs from its session (the established phase implements it
 * with methods: three closures per session were held for its life).
 */
export interface RekeySide {
  /** Sends a frame under the current sending key; it ends its Noise message. */
  sendRekey(frame: Frame): void;
  /** The client's rekey message `about` was refused; the session goes on (an Error frame). */
  refuseRekey(detail: string, about?: Frame): void;
  /** The exchange broke after the client switched keys: the session must end. */
  failRekey(detail: string, about?: Frame): void;
}

/**
 * Rekeys one established session (server = initiator). The time trigger is
 * an entry in the server's shared {@link CoarseSchedule}, not a timer per
 * session: it fires at most the schedule's granularity (1 s on the server)
 * after the keys are `afterMs` old.
 */
export class SessionRekey implements DueItem {
  readonly #transport: EpochTransport;
  readonly #policy: RekeyPolicy;
  readonly #side: RekeySide;
  readonly #backend: Backend;
  readonly #schedule: CoarseSchedule;
  /** The running exchange: starting, waiting for the reply, or finishing; null when idle. */
  #exchange: RekeyInitiator | "starting" | "finishing" | null = null;
  /** The schedule slot of the time trigger; -1 when not scheduled (a small integer field, no boxed NaN). */
  #slot = -1;
  #timeDue = false;
  #stopped = false;

  constructor(
    transport: EpochTransport,
    policy: RekeyPolicy,
    side: RekeySide,
    schedule: CoarseSchedule,
    backend: Backend = "native",
  ) {
    this.#transport = transport;
    this.#policy = policy;
    this.#side = side;
    this.#schedule = schedule;
    this.#backend = backend;
    this.#arm();
  }

  /** Completed rekeys (the current sending epoch). */
  get epoch(): number {
    return this.#transport.epoch;
  }

  /** Starts a rekey if one is due and none is running. */
  check(): void {
    if (this.#stopped || this.#exchange !== null) return;
    const n = this.#policy.afterMessages;
    const byCount = n > 0 && (this.#transport.sendNonce >= n || this.#transport.recvNonce >= n);
    if (!byCount && !this.#timeDue) return;
    this.#start();
  }

  /**
   * Starts an exchange. A method of its own: its closures' `this` made a
   * context on every {@link check}, i.e. on every chunk of every session.
   */
  #start(): void {
    this.#exchange = "starting";
    RekeyInitiator.start(this.#transport, this.#backend).then(({ rekey, init }) => {
      if (this.#stopped) return;
      this.#exchange = rekey;
      this.#side.sendRekey(
        controlFrame(FrameType.KeyUpdate, REKEY_CHANNEL, 0, rekeyBody("init", init)),
      );
    }, (error) => this.#side.failRekey(`rekey could not start: ${String(error)}`));
  }

  /**
   * Handles a rekey message from the client. The client only answers: a
   * `reply` while an exchange waits for it completes the exchange (the
   * server sends `done` under the old key and switches); anything else is
   * refused and changes nothing. A `reply` that does not complete the
   * exchange fails the session (the client already sends with new keys).
   */
  receive(frame: DecodedFrame): void | Promise<void> {
    let reply: Uint8Array;
    try {
      const message = parseRekeyBody(frame.control);
      if (message.step !== "reply") {
        throw new Error(
          `the server starts rekeys; a client sends only "reply", not "${message.step}"`,
        );
      }
      reply = message.noise;
    } catch (error) {
      this.#side.refuseRekey((error as Error).message, frame);
      return;
    }
    const exchange = this.#exchange;
    if (!(exchange instanceof RekeyInitiator)) {
      this.#side.refuseRekey("no rekey is waiting for a reply (replayed or unsolicited)", frame);
      return;
    }
    this.#exchange = "finishing"; // a replayed reply is refused, no new exchange starts meanwhile
    return exchange.onReply(reply).then((switchSend) => {
      if (this.#stopped) return;
      this.#side.sendRekey(controlFrame(FrameType.KeyUpdate, REKEY_CHANNEL, 0, rekeyBody("done")));
      switchSend();
      this.#exchange = null;
      this.#timeDue = false;
      this.#arm();
    }, (error) => this.#side.failRekey(`rekey reply rejected: ${(error as Error).message}`, frame));
  }

  /** The keys are `afterMs` old (called by the schedule). */
  due(): void {
    this.#disarm(); // a no-op when the schedule called (it already let go)
    this.#timeDue = true;
    this.check();
  }

  /** Leaves the schedule (the session closed). */
  stop(): void {
    this.#stopped = true;
    this.#disarm();
  }

  #arm(): void {
    this.#disarm();
    if (this.#policy.afterMs <= 0 || this.#stopped) return;
    this.#slot = this.#schedule.add(this, this.#policy.afterMs);
  }

  #disarm(): void {
    if (this.#slot < 0) return;
    this.#schedule.remove(this, this.#slot);
    this.#slot = -1;
  }
}
