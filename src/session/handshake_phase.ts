/**
 * The handshake phase of a connection: plaintext CCP-1 frames (Hello, then
 * Auth for XK) read from a small bounded buffer and handed to the server
 * handshake, until it commits an established session.
 *
 * @module
 */
import {
  ACK_UPTO_CAPABILITY,
  type DecodedFrame,
  decodeFrame,
  type Frame,
  FrameType,
  frameTypeLabel,
  isCodecError,
  PAD1_CAPABILITY,
  REKEY_CAPABILITY,
} from "../proto/mod.ts";
import { MULTIPATH_CAPABILITY, RAPTORQ_CAPABILITY } from "../multipath/mod.ts";
import { HandshakeError } from "./errors.ts";
import type { Established } from "./handshake.ts";

/**
 * Largest plaintext frame accepted during the handshake (a Hello with a
 * certificate is a few KiB). A larger length prefix is refused as soon as it
 * is read, so a client cannot make the server buffer more than this before
 * it has authenticated.
 */
export const MAX_HANDSHAKE_FRAME = 64 * 1024;

/** The server side of the Noise handshake, as the phase drives it. */
export interface HandshakeDriver {
  /** True (XK) when the client still owes its Auth (Noise message 3). */
  readonly awaitingAuth: boolean;
  /** Processes the Hello; returns the Auth frame to send. */
  hello(frame: DecodedFrame): Promise<Frame>;
  /** Processes the client's Auth (XK message 3). */
  auth(frame: DecodedFrame): void;
  /** Commits the session once the client proved its keys. */
  commit(): Promise<Established>;
}

/** What the phase needs from its connection. */
export interface HandshakeSide {
  /** True once the connection closed (the handshake timeout may fire while the store answers). */
  isClosed(): boolean;
  /** Sends a plaintext frame. */
  sendPlain(frame: Frame): void;
  /** A frame came in (metrics). */
  frameIn(type: number): void;
}

/** A completed handshake and what the client sent right behind it. */
export interface HandshakeOutcome {
  established: Established;
  /** The client asked for cumulative Acks (Hello capability "ack-upto"). */
  cumulativeAcks: boolean;
  /** The client answers server-initiated rekeys (Hello capability "rekey"). */
  rekey: boolean;
  /** The client reads and writes padded plaintexts (Hello capability "pad1"). */
  pad1: boolean;
  /** The client runs multipath sessions (Hello capability "multipath"), with RaptorQ ("raptorq") or not. */
  multipath: false | { raptorq: boolean };
  /** Bytes after the last handshake frame: the first established-phase units. */
  rest: Uint8Array;
}

const NO_BYTES = new Uint8Array(0);

/**
 * Reads handshake frames and drives the handshake. Throws {@link HandshakeError}
 * on a refusal (reason `decode` for bytes that are no frame); any other
 * throw is a failed dependency (e.g. the store).
 */
export class HandshakePhase {
  /**
   * When the connection began (`Date.now()`), for the handshake's duration:
   * kept here, not on the connection, so it goes with the phase (a boxed
   * number, 16 B, was held for every idle session's life).
   */
  readonly startedAt: number = Date.now();
  readonly #driver: HandshakeDriver;
  readonly #side: HandshakeSide;
  #buffer: Uint8Array = NO_BYTES;
  #awaitingAuth = false;
  #cumulativeAcks = false;
  #rekey = false;
  #pad1 = false;
  #multipath: false | { raptorq: boolean } = false;

  constructor(driver: HandshakeDriver, side: HandshakeSide) {
    this.#driver = driver;
    this.#side = side;
  }

  /** Bytes held waiting for the rest of a handshake frame. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Adds upstream bytes; resolves with the outcome once the session is established. */
  async push(chunk: Uint8Array): Promise<HandshakeOutcome | null> {
    let buf = concat(this.#buffer, chunk);
    this.#buffer = NO_BYTES;
    while (buf.length > 0) {
      let decoded: { frame: DecodedFrame; consumed: number } | null;
      try {
        decoded = decodeFrame(buf, { maxFrameLength: MAX_HANDSHAKE_FRAME });
      } catch (error) {
        throw new HandshakeError("decode", codecText(error));
      }
      if (!decoded) break;
      buf = buf.subarray(decoded.consumed);
      this.#side.frameIn(decoded.frame.type);
      const established = await this.#frame(decoded.frame);
      if (established) {
        return {
          established,
          cumulativeAcks: this.#cumulativeAcks,
          rekey: this.#rekey,
          pad1: this.#pad1,
          multipath: this.#multipath,
          rest: buf.slice(),
        };
      }
      if (this.#side.isClosed()) return null;
    }
    this.#buffer = buf.length > 0 ? buf.slice() : NO_BYTES;
    return null;
  }

  async #frame(frame: DecodedFrame): Promise<Established | null> {
    const driver = this.#driver;
    if (!this.#awaitingAuth) {
      if (frame.type !== FrameType.Hello) {
        throw new HandshakeError(
          "unexpected_frame",
          `expected hello, got ${frameTypeLabel(frame.type)}`,
        );
      }
      const capabilities = (frame.control as { capabilities?: unknown } | null)?.capabilities;
      this.#cumulativeAcks = Array.isArray(capabilities) &&
        capabilities.includes(ACK_UPTO_CAPABILITY);
      this.#rekey = Array.isArray(capabilities) && capabilities.includes(REKEY_CAPABILITY);
      this.#pad1 = Array.isArray(capabilities) && capabilities.includes(PAD1_CAPABILITY);
      this.#multipath = Array.isArray(capabilities) &&
        capabilities.includes(MULTIPATH_CAPABILITY) &&
        { raptorq: capabilities.includes(RAPTORQ_CAPABILITY) };
      const auth = await driver.hello(frame);
      // The handshake timeout may have closed us while the store answered.
      if (this.#side.isClosed()) return null;
      this.#side.sendPlain(auth);
      if (driver.awaitingAuth) {
        this.#awaitingAuth = true;
        return null;
      }
    } else {
      if (frame.type !== FrameType.Auth) {
        throw new HandshakeError(
          "unexpected_frame",
          `expected auth, got ${frameTypeLabel(frame.type)}`,
        );
      }
      driver.auth(frame);
    }
    const established = await driver.commit();
    return this.#side.isClosed() ? null : established;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The message of a codec error (or any error). */
export function codecText(error: unknown): string {
  if (isCodecError(error)) return error.message;
  return error instanceof Error ? error.message : String(error);
}
