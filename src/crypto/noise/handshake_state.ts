/**
 * HandshakeState (Noise §5.3): runs a handshake pattern token by token,
 * including the HFS tokens `e1` and `ekem1` (a KEM beside the DH). The KEM
 * is asynchronous (WebCrypto), so a message with a KEM step is written or
 * read with the `...Async` methods; the token loop is one generator that
 * yields each KEM promise, driven synchronously or asynchronously.
 *
 * @module
 */

import { concatBytes } from "../bytes.ts";
import { type Encapsulation, type Kem, type KemKeyPair, ML_KEM_768 } from "../pq/mod.ts";
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
  /** The KEM of a hybrid (`hfs`) protocol; required for one, refused for a classical one. */
  readonly kem?: Kem;
  /** Local KEM key pair `e1`, injected for tests and vectors; generated when absent. */
  readonly e1?: KemKeyPair;
}

/** A payload, or a function computing it from the handshake hash it will be encrypted under. */
export type HandshakePayload =
  | Uint8Array
  | ((handshakeHash: Uint8Array) => Uint8Array | Promise<Uint8Array>);

/** One KEM step the token loop waits for. */
type KemStep = Promise<KemKeyPair | Encapsulation | Uint8Array>;

const PSK_LENGTH = 32;

/** The state of one party during a handshake. */
export class HandshakeState {
  readonly #suite: CryptoSuite;
  readonly #protocol: ProtocolSpec;
  readonly #initiator: boolean;
  readonly #ss: SymmetricState;
  readonly #psks = new Map<number, Uint8Array>();
  readonly #pskMode: boolean;
  readonly #kem: Kem | null;
  #s: KeyPair | null;
  #e: KeyPair | null;
  #e1: KemKeyPair | null;
  #re1: Uint8Array | null = null;
  #payloadHash: Uint8Array | null = null;
  /** True while an async message waits for a KEM step; no other call may interleave. */
  #busy = false;
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
    this.#e1 = init.e1 ?? null;
    this.#kem = init.kem ?? null;
    if ((protocol.kem !== null) !== (this.#kem !== null)) {
      throw new NoiseError(
        "invalid-argument",
        protocol.kem === null
          ? `${protocol.name} has no KEM; do not supply one`
          : `${protocol.name} needs a KEM implementation`,
      );
    }
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
   * The handshake hash the last message's payload was encrypted under (its
   * AEAD associated data): for the reply of an `hfs` pattern, the hash
   * right after `ekem1`, which a server signature covers. Null before any message.
   */
  get payloadHash(): Uint8Array | null {
    return this.#payloadHash?.slice() ?? null;
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

  /**
   * WriteMessage(payload, message_buffer): returns the next handshake message.
   * Throws `NoiseError("invalid-state")` for a message with a KEM step: use
   * {@linkcode writeMessageAsync}.
   */
  writeMessage(payload: Uint8Array = new Uint8Array(0)): Uint8Array {
    const tokens = this.#beginMessage(true);
    this.#refuseKemStep(tokens, true);
    this.#checkPayload(tokens, payload);
    return this.#runSync(this.#write(tokens, payload));
  }

  /**
   * WriteMessage for any pattern, KEM steps included. `payload` may be a
   * function of the handshake hash it will be encrypted under (e.g. to sign it).
   */
  async writeMessageAsync(payload: HandshakePayload = new Uint8Array(0)): Promise<Uint8Array> {
    const tokens = this.#beginMessage(true);
    if (typeof payload !== "function") this.#checkPayload(tokens, payload);
    return await this.#runAsync(this.#write(tokens, payload));
  }

  /**
   * ReadMessage(message, payload_buffer): consumes a handshake message,
   * returns its payload. Throws `NoiseError("invalid-state")` for a message
   * with a KEM step: use {@linkcode readMessageAsync}.
   */
  readMessage(message: Uint8Array): Uint8Array {
    const tokens = this.#beginMessage(false);
    this.#refuseKemStep(tokens, false);
    this.#checkMessage(tokens, message);
    return this.#runSync(this.#read(tokens, message));
  }

  /** ReadMessage for any pattern, KEM steps included. */
  async readMessageAsync(message: Uint8Array): Promise<Uint8Array> {
    const tokens = this.#beginMessage(false);
    this.#checkMessage(tokens, message);
    return await this.#runAsync(this.#read(tokens, message));
  }

  /** The token loop of WriteMessage; yields where it waits for the KEM or the payload. */
  *#write(
    tokens: readonly Token[],
    payload: HandshakePayload,
  ): Generator<KemStep | Promise<Uint8Array>, Uint8Array, unknown> {
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
      } else if (token === "e1") {
        this.#e1 ??= (yield this.#needKem().generateKeyPair()) as KemKeyPair;
        parts.push(this.#ss.encryptAndHash(this.#e1.publicKey));
      } else if (token === "ekem1") {
        const { ciphertext, sharedSecret } =
          (yield this.#needKem().encapsulate(this.#needRe1())) as Encapsulation;
        parts.push(this.#ss.encryptAndHash(ciphertext));
        this.#ss.mixKey(sharedSecret);
        sharedSecret.fill(0);
      } else {
        this.#mixToken(token);
      }
    }
    this.#payloadHash = this.#ss.getHandshakeHash();
    let body: Uint8Array;
    if (typeof payload === "function") {
      const computed = payload(this.#payloadHash.slice());
      body = computed instanceof Uint8Array ? computed : (yield computed) as Uint8Array;
      this.#checkPayload(tokens, body);
    } else {
      body = payload;
    }
    parts.push(this.#ss.encryptAndHash(body));
    const message = concatBytes(...parts);
    this.#endMessage();
    return message;
  }

  /** The token loop of ReadMessage; yields where it waits for the KEM. */
  *#read(tokens: readonly Token[], message: Uint8Array): Generator<KemStep, Uint8Array, unknown> {
    const dhLen = this.#suite.dh.dhLen;
    let offset = 0;
    /** The next encrypted field of `length` plaintext bytes, decrypted and hashed. */
    const decryptField = (length: number): Uint8Array => {
      const sealed = length + (this.#ss.cipherState.hasKey() ? TAG_LENGTH : 0);
      const plain = this.#ss.decryptAndHash(message.subarray(offset, offset + sealed));
      offset += sealed;
      return plain;
    };
    for (const token of tokens) {
      if (token === "e") {
        const re = message.slice(offset, offset + dhLen);
        offset += dhLen;
        this.#re = re;
        this.#ss.mixHash(re);
        if (this.#pskMode) this.#ss.mixKey(re);
      } else if (token === "s") {
        this.#rs = decryptField(dhLen).slice();
      } else if (token === "e1") {
        this.#re1 = decryptField(ML_KEM_768.publicKeyLength).slice();
      } else if (token === "ekem1") {
        const ciphertext = decryptField(ML_KEM_768.ciphertextLength);
        const sharedSecret =
          (yield this.#needKem().decapsulate(this.#needE1(), ciphertext)) as Uint8Array;
        this.#ss.mixKey(sharedSecret);
        sharedSecret.fill(0);
      } else {
        this.#mixToken(token);
      }
    }
    this.#payloadHash = this.#ss.getHandshakeHash();
    const payload = this.#ss.decryptAndHash(message.subarray(offset));
    this.#endMessage();
    return payload;
  }

  /** Refuses a payload that is not bytes or would not fit the message (before any state change). */
  #checkPayload(tokens: readonly Token[], payload: Uint8Array): void {
    const { fixed, keyedAtEnd } = this.#layout(tokens);
    const limit = MAX_MESSAGE_LENGTH - fixed - (keyedAtEnd ? TAG_LENGTH : 0);
    if (!(payload instanceof Uint8Array)) {
      throw new NoiseError("invalid-argument", "handshake payload must be bytes");
    }
    if (payload.length > limit) {
      throw new NoiseError("message-too-long", `handshake payload exceeds ${limit} bytes`);
    }
  }

  /** Refuses a message too long for Noise or too short for its tokens (before any state change). */
  #checkMessage(tokens: readonly Token[], message: Uint8Array): void {
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
  }

  /** Runs a token loop that must not wait (checked beforehand by `#refuseKemStep`). */
  #runSync(steps: Generator<unknown, Uint8Array, unknown>): Uint8Array {
    try {
      const result = steps.next();
      if (!result.done) throw new NoiseError("invalid-state", "handshake step needs the async API");
      return result.value;
    } catch (err) {
      this.#failed = true;
      throw err;
    }
  }

  /** Runs a token loop, awaiting each step it yields; any failure fails the handshake. */
  async #runAsync(steps: Generator<unknown, Uint8Array, unknown>): Promise<Uint8Array> {
    this.#busy = true;
    try {
      let result = steps.next();
      while (!result.done) result = steps.next(await result.value);
      return result.value;
    } catch (err) {
      this.#failed = true;
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  /** A message whose tokens wait for the KEM cannot be processed synchronously. */
  #refuseKemStep(tokens: readonly Token[], writing: boolean): void {
    const waits = tokens.includes("ekem1") ||
      (writing && tokens.includes("e1") && this.#e1 === null);
    if (waits) {
      throw new NoiseError(
        "invalid-state",
        `${this.#protocol.name} message ${this.#messageIndex} has a KEM step: use ${
          writing ? "writeMessageAsync" : "readMessageAsync"
        }`,
      );
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
    if (this.#busy) throw new NoiseError("invalid-state", "a handshake message is in progress");
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
      } else if (token === "e1") {
        fixed += ML_KEM_768.publicKeyLength + (keyed ? TAG_LENGTH : 0);
      } else if (token === "ekem1") {
        fixed += ML_KEM_768.ciphertextLength + (keyed ? TAG_LENGTH : 0);
        keyed = true;
      } else {
        keyed = true;
      }
    }
    return { fixed, keyedAtEnd: keyed };
  }

  #mixToken(token: Exclude<Token, "e" | "s" | "e1" | "ekem1">): void {
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
    const [c1, c2, shared] = this.#ss.split();
    this.#handshakeHash = shared.subarray(64);
    this.#transport = this.#initiator
      ? new CipherStatePair(c1, c2, shared, 64)
      : new CipherStatePair(c2, c1, shared, 64);
    // The ephemeral private key has done its job.
    this.#e?.privateKey.fill(0);
    this.#e = null;
    this.#e1 = null;
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

  #needKem(): Kem {
    if (this.#kem === null) throw new NoiseError("missing-key", "no KEM for this pattern");
    return this.#kem;
  }

  #needE1(): KemKeyPair {
    if (this.#e1 === null) throw new NoiseError("missing-key", "local KEM key pair not set");
    return this.#e1;
  }

  #needRe1(): Uint8Array {
    if (this.#re1 === null) throw new NoiseError("missing-key", "remote KEM key not known");
    return this.#re1;
  }

  #needRe(): Uint8Array {
    if (this.#re === null) throw new NoiseError("missing-key", "remote ephemeral key not known");
    return this.#re;
  }
}
