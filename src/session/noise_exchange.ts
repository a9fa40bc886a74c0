/**
 * The Noise part of the server's handshake: the responder side of a session
 * pattern chosen from the Noise layer's table (`crypto/noise/session_patterns.ts`),
 * tried against every active server key, with the checks a pattern implies:
 * the Noise-authenticated client static must equal `Hello.client_static`, and a
 * pattern whose message 1 already authenticates the client (IK) must carry a
 * fresh timestamp. Nothing here knows pattern names; a new pattern (e.g. a KEM
 * step) is a row in that table. A hybrid (`hfs`) pattern's reply carries the
 * server's ML-DSA-65 signature over the handshake hash after `ekem1`.
 *
 * @module
 */
import { pqSuite, type Signer } from "../crypto/pq/mod.ts";
import {
  constantTimeEqual,
  createHandshake,
  cryptoSuite,
  findSessionPattern,
  fromUtf8,
  type Handshake,
  type NoiseTransport,
  serverSignatureMessage,
  SESSION_PATTERN_NAMES,
  type SessionPattern,
  toHex,
} from "../crypto/mod.ts";
import { HandshakeError } from "./errors.ts";
import type { KeyPair, NoiseKey, NoiseKeyring } from "../crypto/mod.ts";

/**
 * Each server key's imported X25519 pair, made on its first handshake: the
 * import (a native key object and its public key) cost every handshake ~10 µs
 * again. Keyed by the key object, checked against its private key bytes'
 * identity (a reloaded keyring makes new objects).
 */
const staticPairs = new WeakMap<NoiseKey, { privateKey: Uint8Array; pair: KeyPair }>();

function staticPair(key: NoiseKey): KeyPair {
  const hit = staticPairs.get(key);
  if (hit !== undefined && hit.privateKey === key.privateKey) return hit.pair;
  // Every classical suite shares the one X25519 (cryptoSuite's hash only picks the hash).
  const pair = cryptoSuite("BLAKE2s").dh.keyPairFromPrivate(key.privateKey);
  staticPairs.set(key, { privateKey: key.privateKey, pair });
  return pair;
}

/** What the Noise exchange needs from the server. */
export interface NoiseExchangeDeps {
  prologue: Uint8Array;
  keyring: NoiseKeyring;
  /** How far a first-message timestamp (IK) may be from our clock. */
  ikFreshnessMs: number;
  now: () => number;
}

/**
 * The session pattern a Hello names; an unknown name is an invalid Hello
 * (the detail names the field, as schema errors do).
 */
export function helloPattern(name: string): SessionPattern {
  const pattern = findSessionPattern(name);
  if (pattern === undefined) {
    throw new HandshakeError(
      "invalid_hello",
      `invalid hello: pattern: unsupported handshake pattern ${JSON.stringify(name)} (have ${
        SESSION_PATTERN_NAMES.join(", ")
      })`,
    );
  }
  return pattern;
}

/** The server (responder) side of one Noise handshake. */
export class NoiseExchange {
  /** The session pattern in use. */
  readonly pattern: SessionPattern;
  /** The server key message 1 was addressed to. */
  readonly key: NoiseKey;
  readonly #noise: Handshake;
  readonly #clientStatic: Uint8Array;

  private constructor(
    pattern: SessionPattern,
    key: NoiseKey,
    noise: Handshake,
    clientStatic: Uint8Array,
  ) {
    this.pattern = pattern;
    this.key = key;
    this.#noise = noise;
    this.#clientStatic = clientStatic;
  }

  /**
   * Reads message 1 with each active key (newest first) until one decrypts,
   * then applies the checks the pattern implies for message 1.
   */
  static readFirst(
    deps: NoiseExchangeDeps,
    pattern: SessionPattern,
    message: Uint8Array,
    clientStatic: Uint8Array,
  ): NoiseExchange {
    for (const key of deps.keyring.active()) {
      const noise = createHandshake({
        protocolName: pattern.protocolName,
        initiator: false,
        prologue: deps.prologue,
        staticKeyPair: staticPair(key),
      });
      let payload: Uint8Array;
      try {
        payload = noise.readMessage(message);
      } catch {
        continue; // Wrong key version (or garbage): try the next active key.
      }
      const exchange = new NoiseExchange(pattern, key, noise, clientStatic);
      if (pattern.clientStaticInFirstMessage) {
        exchange.#requireStaticMatch();
        requireFreshTimestamp(pattern.name, payload, deps.now(), deps.ikFreshnessMs);
      }
      return exchange;
    }
    throw new HandshakeError("noise", "noise message 1 did not decrypt with any active server key");
  }

  /** True while the client still owes a handshake message (XK: message 3). */
  get awaitingClient(): boolean {
    return !this.#noise.isFinished && !this.#noise.isMyTurn;
  }

  /** True once every handshake message has been exchanged. */
  get finished(): boolean {
    return this.#noise.isFinished;
  }

  /**
   * Writes the server's reply (message 2). `payload` receives the server's
   * ML-DSA-65 signature over the handshake hash after `ekem1` (hex) for a
   * hybrid pattern, null for a classical one, and returns the payload bytes.
   */
  async reply(
    payload: (pqSignature: string | null) => Uint8Array,
    signer: Signer = pqSuite().signer,
  ): Promise<Uint8Array> {
    if (!this.pattern.hybrid) return this.#noise.writeMessage(payload(null));
    const identity = this.key.pqSigning;
    if (!identity) {
      throw new HandshakeError(
        "pq_unavailable",
        `server key version ${this.key.version} has no post-quantum identity; ` +
          `retry with ${this.pattern.classical} or after the next key rotation`,
      );
    }
    return await this.#noise.writeMessageAsync(async (hash) => {
      const signature = await signer.sign(identity, serverSignatureMessage(hash));
      return payload(toHex(signature));
    });
  }

  /** Reads the client's last message (XK: message 3) and checks the static it authenticates. */
  readFinal(message: Uint8Array): void {
    try {
      this.#noise.readMessage(message);
    } catch {
      throw new HandshakeError(
        "noise",
        `noise message ${this.pattern.messageCount} did not verify`,
      );
    }
    this.#requireStaticMatch();
  }

  /** The transport of the finished handshake; callable once. */
  split(): NoiseTransport {
    return this.#noise.split();
  }

  #requireStaticMatch(): void {
    const remote = this.#noise.remoteStatic;
    if (!remote || !constantTimeEqual(remote, this.#clientStatic)) {
      throw new HandshakeError("static_mismatch", "noise static key does not match client_static");
    }
  }
}

function requireFreshTimestamp(
  patternName: string,
  payload: Uint8Array,
  now: number,
  windowMs: number,
): void {
  let timestamp: unknown;
  try {
    timestamp = (JSON.parse(fromUtf8(payload)) as { timestamp?: unknown }).timestamp;
  } catch {
    timestamp = undefined;
  }
  if (typeof timestamp !== "number" || !Number.isFinite(timestamp)) {
    throw new HandshakeError(
      "stale",
      `${patternName} message 1 must carry {"timestamp": unix_ms}`,
    );
  }
  if (Math.abs(now - timestamp) > windowMs) {
    throw new HandshakeError(
      "stale",
      `${patternName} message 1 timestamp is outside the accepted window`,
    );
  }
}
