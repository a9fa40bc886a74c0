/**
 * HandshakeState (Noise §5.3): runs a handshake pattern token by token.
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";
import { NoiseError } from "./errors.ts";
import type { PreMessageToken, ProtocolSpec, Token } from "./patterns.ts";
import {
  type CryptoSuite,
  expectLength,
  type KeyPair,
  MAX_MESSAGE_LENGTH,
  TAG_LENGTH,
} from "./primitives.ts";
import { SymmetricState } from "./symmetric_state.ts";
import { CipherStatePair, type NoiseTransport } from "./transport.ts";

/** Everything Initialize() takes, already parsed. */
export interface HandshakeStateInit {
  readonly suite: CryptoSuite;
  readonly protocol: ProtocolSpec;
  readonly initiator: boolean;
  readonly prologue: Uint8Array;
  /** Local static key pair `s`. */
  readonly s?: KeyPair;
  /** Local ephemeral key pair `e`, injected for tests and vectors; generated when absent. */
  readonly e?: KeyPair;
  /** Remote static public key `rs`, for patterns with a pre-message `s`. */
  readonly rs?: Uint8Array;
  /** Pre-shared keys in the order of the psk modifiers in the protocol name. */
  readonly psks?: readonly Uint8Array[];
}

const PSK_LENGTH = 32;

/** The state of one party during a handshake. */
export class HandshakeState {
  readonly #suite: CryptoSuite;
  readonly #protocol: ProtocolSpec;
  readonly #initiator: boolean;
  readonly #ss: SymmetricState;
  readonly #psks = new Map<number, Uint8Array>();
  readonly #pskMode: boolean;
  #s: KeyPair | null;
  #e: KeyPair | null;
  #rs: Uint8Array | null;
  #re: Uint8Array | null = null;
  #messageIndex = 0;
  #pskCursor = 0;
  #failed = false;
  #handshakeHash: Uint8Array | null = null;
  #transport: NoiseTransport | null = null;
  #transportTaken = false;

  /** Initialize(handshake_pattern, initiator, prologue, s, e, rs, re, psks). */
  constructor(init: HandshakeStateInit) {
    const { suite, protocol, initiator } = init;
    const pattern = protocol.pattern;
    this.#suite = suite;
    this.#protocol = protocol;
    this.#initiator = initiator;
    this.#pskMode = protocol.pskModifiers.length > 0;
    this.#s = init.s ?? null;
    this.#e = init.e ?? null;
    this.#rs = init.rs === undefined ? null : init.rs.slice();
    if (this.#rs !== null) expectLength(this.#rs, suite.dh.dhLen, "remote static key");

    const localPre = initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage;
    const remotePre = initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage;
    const sendsStatic = pattern.messages.some((m, i) =>
      (i % 2 === 0) === initiator && m.includes("s")
    );
    if (this.#s === null && (localPre.includes("s") || sendsStatic)) {
      throw new NoiseError("missing-key", `${this.#role} of ${pattern.name} needs a static key`);
    }
    if (remotePre.includes("s") && this.#rs === null) {
      throw new NoiseError(
        "missing-key",
        `${this.#role} of ${pattern.name} needs the remote static key`,
      );
    }
    if (!remotePre.includes("s") && this.#rs !== null) {
      throw new NoiseError(
        "invalid-argument",
        `${pattern.name} transmits the remote static key; do not supply one`,
      );
    }
    const psks = init.psks ?? [];
    if (psks.length > protocol.pskModifiers.length) {
      throw new NoiseError(
        "invalid-argument",
        `${protocol.name} takes ${protocol.pskModifiers.length} psks`,
      );
    }
    psks.forEach((psk, i) => this.setPsk(protocol.pskModifiers[i], psk));

    this.#ss = new SymmetricState(suite, protocol.name);
    this.#ss.mixHash(init.prologue);
    // Pre-messages: the initiator's first, then the responder's (§7.1).
    this.#mixPreMessage(pattern.initiatorPreMessage, initiator);
    this.#mixPreMessage(pattern.responderPreMessage, !initiator);
  }

  /** The full protocol name. */
  get protocolName(): string {
    return this.#protocol.name;
  }

  /** Whether this party is the initiator. */
  get isInitiator(): boolean {
    return this.#initiator;
  }

  /** Whether the next handshake call is ours to write (false once finished). */
  get isMyTurn(): boolean {
    return !this.isFinished && (this.#messageIndex % 2 === 0) === this.#initiator;
  }

  /** True once every handshake message has been written or read. */
  get isFinished(): boolean {
    return this.#messageIndex >= this.#protocol.pattern.messages.length;
  }

  /** Current handshake hash h; after the last message, the final one (for channel binding). */
  get handshakeHash(): Uint8Array {
    return this.#handshakeHash?.slice() ?? this.#ss.getHandshakeHash();
  }

  /**
   * The peer's static public key once known (pre-message or received), else
   * null. Null after a failed handshake: nothing from it is trustworthy.
   */
  get remoteStatic(): Uint8Array | null {
    if (this.#failed) return null;
    return this.#rs?.slice() ?? null;
  }

  /**
   * Supplies the key for modifier `pskN` (the N in the protocol name), any
   * time before the message that uses it, e.g. a KEM secret for a hybrid.
   */
  setPsk(modifier: number, psk: Uint8Array): void {
    const position = this.#protocol.pskModifiers.indexOf(modifier);
    if (position < 0) {
      throw new NoiseError("invalid-argument", `${this.#protocol.name} has no psk${modifier}`);
    }
    if (position < this.#pskCursor) {
      throw new NoiseError("invalid-state", `psk${modifier} has already been used`);
    }
    expectLength(psk, PSK_LENGTH, "psk");
    this.#psks.get(modifier)?.fill(0);
    this.#psks.set(modifier, psk.slice());
  }

  /** WriteMessage(payload, message_buffer): returns the next handshake message. */
  writeMessage(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    const tokens = this.#beginMessage(true);
    const { fixed, keyedAtEnd } = this.#layout(tokens);
    const limit = MAX_MESSAGE_LENGTH - fixed - (keyedAtEnd ? TAG_LENGTH : 0);
    if (payload.length > limit) {
      throw new NoiseError("message-too-long", `handshake payload exceeds ${limit} bytes`);
    }
    try {
      const parts: Uint8Array[] = [];
      for (const token of tokens) {
        if (token === "e") {
          this.#e ??= this.#suite.dh.generateKeyPair();
          const pub = this.#e.publicKey;
          parts.push(pub);
          this.#ss.mixHash(pub);
          if (this.#pskMode) this.#ss.mixKey(pub);
        } else if (token === "s") {
          parts.push(this.#ss.encryptAndHash(this.#s!.publicKey));
        } else {
          this.#mixToken(token);
        }
      }
      parts.push(this.#ss.encryptAndHash(payload));
      const message = concatBytes(...parts);
      this.#endMessage();
      return message;
    } catch (err) {
      this.#failed = true;
      throw err;
    }
  }

  /** ReadMessage(message, payload_buffer): consumes a handshake message, returns its payload. */
  readMessage(message: Uint8Array): Uint8Array {
    const tokens = this.#beginMessage(false);
    if (message.length > MAX_MESSAGE_LENGTH) {
      throw new NoiseError(
        "message-too-long",
        `handshake message exceeds ${MAX_MESSAGE_LENGTH} bytes`,
      );
    }
    const { fixed, keyedAtEnd } = this.#layout(tokens);
    if (message.length < fixed + (keyedAtEnd ? TAG_LENGTH : 0)) {
      throw new NoiseError("message-too-short", "handshake message too short for its pattern");
    }
    try {
      const dhLen = this.#suite.dh.dhLen;
      let offset = 0;
      for (const token of tokens) {
        if (token === "e") {
          const re = message.slice(offset, offset + dhLen);
          offset += dhLen;
          this.#re = re;
          this.#ss.mixHash(re);
          if (this.#pskMode) this.#ss.mixKey(re);
        } else if (token === "s") {
          const length = dhLen + (this.#ss.cipherState.hasKey() ? TAG_LENGTH : 0);
          const rs = this.#ss.decryptAndHash(message.subarray(offset, offset + length));
          offset += length;
          this.#rs = rs.slice();
        } else {
          this.#mixToken(token);
        }
      }
      const payload = this.#ss.decryptAndHash(message.subarray(offset));
      this.#endMessage();
      return payload;
    } catch (err) {
      this.#failed = true;
      throw err;
    }
  }

  /**
   * Split(): the transport for the finished handshake, available once.
   * The initiator sends with the first CipherState, the responder with the second.
   */
  split(): NoiseTransport {
    if (!this.isFinished) throw new NoiseError("invalid-state", "handshake not finished");
    if (this.#transportTaken || this.#transport === null) {
      throw new NoiseError("invalid-state", "split() has already been called");
    }
    this.#transportTaken = true;
    const transport = this.#transport;
    this.#transport = null;
    return transport;
  }

  get #role(): string {
    return this.#initiator ? "initiator" : "responder";
  }

  /** Hashes the public keys of a pre-message; `ours` when this party "sent" it. */
  #mixPreMessage(tokens: readonly PreMessageToken[], ours: boolean): void {
    for (const token of tokens) {
      const key = token === "s"
        ? (ours ? this.#needS().publicKey : this.#needRs())
        : (ours ? this.#needE().publicKey : this.#needRe());
      this.#ss.mixHash(key);
      if (token === "e" && this.#pskMode) this.#ss.mixKey(key);
    }
  }

  #beginMessage(writing: boolean): readonly Token[] {
    if (this.#failed) throw new NoiseError("invalid-state", "handshake failed earlier");
    if (this.isFinished) throw new NoiseError("invalid-state", "handshake already finished");
    if (this.isMyTurn !== writing) {
      throw new NoiseError(
        "invalid-state",
        `${this.#role} must ${writing ? "read" : "write"} handshake message ${this.#messageIndex}`,
      );
    }
    return this.#protocol.pattern.messages[this.#messageIndex];
  }

  /** Bytes taken by the tokens (before the payload) and whether the payload is encrypted. */
  #layout(tokens: readonly Token[]): { fixed: number; keyedAtEnd: boolean } {
    const dhLen = this.#suite.dh.dhLen;
    let keyed = this.#ss.cipherState.hasKey();
    let fixed = 0;
    for (const token of tokens) {
      if (token === "e") {
        fixed += dhLen;
        if (this.#pskMode) keyed = true;
      } else if (token === "s") {
        fixed += dhLen + (keyed ? TAG_LENGTH : 0);
      } else {
        keyed = true;
      }
    }
    return { fixed, keyedAtEnd: keyed };
  }

  #mixToken(token: Exclude<Token, "e" | "s">): void {
    if (token === "psk") {
      const modifier = this.#protocol.pskModifiers[this.#pskCursor];
      const psk = this.#psks.get(modifier);
      if (psk === undefined) throw new NoiseError("missing-key", `psk${modifier} has not been set`);
      this.#ss.mixKeyAndHash(psk);
      psk.fill(0);
      this.#psks.delete(modifier);
      this.#pskCursor++;
      return;
    }
    const dh = this.#suite.dh;
    const init = this.#initiator;
    let shared: Uint8Array;
    if (token === "ee") shared = dh.dh(this.#needE(), this.#needRe());
    else if (token === "ss") shared = dh.dh(this.#needS(), this.#needRs());
    else if ((token === "es") === init) shared = dh.dh(this.#needE(), this.#needRs());
    else shared = dh.dh(this.#needS(), this.#needRe());
    this.#ss.mixKey(shared);
    shared.fill(0);
  }

  #endMessage(): void {
    this.#messageIndex++;
    if (!this.isFinished) return;
    this.#handshakeHash = this.#ss.getHandshakeHash();
    const [c1, c2] = this.#ss.split();
    this.#transport = this.#initiator
      ? new CipherStatePair(c1, c2, this.#handshakeHash)
      : new CipherStatePair(c2, c1, this.#handshakeHash);
    // The ephemeral private key has done its job.
    this.#e?.privateKey.fill(0);
    this.#e = null;
  }

  #needS(): KeyPair {
    if (this.#s === null) throw new NoiseError("missing-key", "local static key not set");
    return this.#s;
  }

  #needE(): KeyPair {
    if (this.#e === null) throw new NoiseError("missing-key", "local ephemeral key not set");
    return this.#e;
  }

  #needRs(): Uint8Array {
    if (this.#rs === null) throw new NoiseError("missing-key", "remote static key not known");
    return this.#rs;
  }

  #needRe(): Uint8Array {
    if (this.#re === null) throw new NoiseError("missing-key", "remote ephemeral key not known");
    return this.#re;
  }
}
