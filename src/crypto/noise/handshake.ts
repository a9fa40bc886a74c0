/**
 * The friendly entry point: build a handshake from a protocol name and raw
 * keys, on either backend.
 *
 * @module
 */

import { NoiseError } from "./errors.ts";
import { type Kem, type KemKeyPair, pqSuite } from "../pq/mod.ts";
import { type HandshakePayload, HandshakeState } from "./handshake_state.ts";
import {
  nativeBlake2b,
  nativeBlake2s,
  nativeChaChaPoly,
  nativeSha256,
  nativeX25519,
} from "./native.ts";
import { nobleBlake2b, nobleBlake2s, nobleChaChaPoly, nobleSha256, nobleX25519 } from "./noble.ts";
import { type HashName, parseProtocolName, type ProtocolSpec } from "./patterns.ts";
import type { Backend, CryptoSuite, KeyPair } from "./primitives.ts";
import type { NoiseTransport } from "./transport.ts";

/** Options of {@linkcode createHandshake}. All keys are raw 32-byte values and are copied. */
export interface HandshakeOptions {
  /** e.g. `Noise_XK_25519_ChaChaPoly_BLAKE2s` or `Noise_IKpsk2_25519_ChaChaPoly_SHA256`. */
  protocolName: string;
  /** True for the party that sends the first message. */
  initiator: boolean;
  /** Bytes both parties must agree on, bound into the handshake hash. Default empty. */
  prologue?: Uint8Array;
  /** Local static private key, for patterns that have one. */
  staticPrivate?: Uint8Array;
  /**
   * The local static key pair already made by this backend's
   * {@linkcode cryptoSuite}`(…).dh.keyPairFromPrivate`, instead of `staticPrivate`:
   * a server answering many handshakes with one key keeps it, so each handshake
   * skips the import (not copied; the pair is immutable).
   */
  staticKeyPair?: KeyPair;
  /** Peer's static public key, for patterns where it is known in advance (XK, IK initiator). */
  remoteStatic?: Uint8Array;
  /** Local ephemeral private key; only for test vectors and tests. Generated when absent. */
  ephemeralPrivate?: Uint8Array;
  /**
   * Pre-shared keys, in the order of the psk modifiers in the name
   * (`psk0+psk2` → [psk0, psk2]). Missing ones may be supplied later with `setPsk`.
   */
  psks?: Uint8Array[];
  /**
   * Primitive implementation; default `native`. For a hybrid (`hfs`)
   * protocol it also picks the KEM: native → WebCrypto, noble → noble.
   */
  backend?: Backend;
  /** The KEM of an `hfs` protocol, overriding the backend's (tests and vectors). */
  kem?: Kem;
  /** Local KEM key pair `e1`; only for test vectors and tests. Generated when absent. */
  kemKeyPair?: KemKeyPair;
}

/** One party's side of a Noise handshake. */
export interface Handshake {
  /** Produces the next handshake message carrying `payload` (default empty). */
  writeMessage(payload?: Uint8Array): Uint8Array;
  /** Consumes the peer's next handshake message and returns its payload. */
  readMessage(message: Uint8Array): Uint8Array;
  /**
   * Like `writeMessage`, for any message including KEM steps (`hfs`);
   * `payload` may be computed from the handshake hash it is encrypted under.
   */
  writeMessageAsync(payload?: HandshakePayload): Promise<Uint8Array>;
  /** Like `readMessage`, for any message including KEM steps (`hfs`). */
  readMessageAsync(message: Uint8Array): Promise<Uint8Array>;
  /** The handshake hash the last message's payload was encrypted under (null before any). */
  readonly payloadHash: Uint8Array | null;
  /** Supplies the key for modifier `pskN` before the message that uses it. */
  setPsk(modifier: number, psk: Uint8Array): void;
  /** The full protocol name. */
  readonly protocolName: string;
  /** Whether this party is the initiator. */
  readonly isInitiator: boolean;
  /** Whether the next call should be `writeMessage`. */
  readonly isMyTurn: boolean;
  /** True once all handshake messages have been exchanged. */
  readonly isFinished: boolean;
  /** Current (after finishing: final) handshake hash. */
  readonly handshakeHash: Uint8Array;
  /** The peer's static public key once known, else null. */
  readonly remoteStatic: Uint8Array | null;
  /** The transport of the finished handshake; callable once. */
  split(): NoiseTransport;
}

const SUITES: Readonly<Record<Backend, Readonly<Record<HashName, CryptoSuite>>>> = {
  native: {
    BLAKE2s: { dh: nativeX25519, cipher: nativeChaChaPoly, hash: nativeBlake2s },
    BLAKE2b: { dh: nativeX25519, cipher: nativeChaChaPoly, hash: nativeBlake2b },
    SHA256: { dh: nativeX25519, cipher: nativeChaChaPoly, hash: nativeSha256 },
  },
  noble: {
    BLAKE2s: { dh: nobleX25519, cipher: nobleChaChaPoly, hash: nobleBlake2s },
    BLAKE2b: { dh: nobleX25519, cipher: nobleChaChaPoly, hash: nobleBlake2b },
    SHA256: { dh: nobleX25519, cipher: nobleChaChaPoly, hash: nobleSha256 },
  },
};

function checkBackend(backend: unknown): Backend {
  if (backend !== "native" && backend !== "noble") {
    throw new NoiseError("invalid-argument", 'backend must be "native" or "noble"');
  }
  return backend;
}

/** The X25519/ChaChaPoly suite with `hash` on `backend`. */
export function cryptoSuite(hash: HashName, backend: Backend = "native"): CryptoSuite {
  return SUITES[checkBackend(backend)][hash];
}

/** Parsed protocol names: a server parses the same two or three on every handshake. */
const parsedNames = new Map<string, ProtocolSpec>();
/** Bound on {@link parsedNames}: names come from code, but a caller could pass many. */
const PARSED_NAMES_LIMIT = 32;

/** {@link parseProtocolName}, remembered per name (a spec is never changed once made). */
function protocolSpec(name: string): ProtocolSpec {
  let spec = parsedNames.get(name);
  if (spec === undefined) {
    spec = parseProtocolName(name);
    if (parsedNames.size >= PARSED_NAMES_LIMIT) parsedNames.clear();
    parsedNames.set(name, spec);
  }
  return spec;
}

/** Starts a handshake. Throws `NoiseError` for unsupported names or missing/ill-sized keys. */
export function createHandshake(options: HandshakeOptions): Handshake {
  const protocol = protocolSpec(options.protocolName);
  const backend = checkBackend(options.backend ?? "native");
  const suite = cryptoSuite(protocol.hash, backend);
  const kem = options.kem ??
    (protocol.kem === null ? undefined : pqSuite(backend === "native" ? "webcrypto" : "noble").kem);
  const { dh } = suite;
  return new HandshakeState({
    suite,
    protocol,
    initiator: options.initiator === true,
    prologue: options.prologue ?? new Uint8Array(0),
    s: options.staticKeyPair ??
      (options.staticPrivate === undefined
        ? undefined
        : dh.keyPairFromPrivate(options.staticPrivate)),
    e: options.ephemeralPrivate === undefined
      ? undefined
      : dh.keyPairFromPrivate(options.ephemeralPrivate),
    rs: options.remoteStatic,
    psks: options.psks,
    kem,
    e1: options.kemKeyPair,
  });
}

/** A fresh X25519 key pair (e.g. a server's static key). */
export function generateKeyPair(backend: Backend = "native"): KeyPair {
  return SUITES[checkBackend(backend)].BLAKE2s.dh.generateKeyPair();
}

/** The X25519 public key of a raw 32-byte private key. */
export function x25519PublicFromPrivate(
  privateKey: Uint8Array,
  backend: Backend = "native",
): Uint8Array {
  return SUITES[checkBackend(backend)].BLAKE2s.dh.keyPairFromPrivate(privateKey).publicKey;
}
