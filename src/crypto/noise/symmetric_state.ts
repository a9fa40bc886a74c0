/**
 * SymmetricState (Noise §5.2): the chaining key, handshake hash and the
 * CipherState they key, plus HKDF (§4.3).
 *
 * @module
 */

import { utf8 } from "../bytes.ts";
import { CipherState } from "./cipher_state.ts";
import { hkdfFromHmac } from "./hmac.ts";
import type { CryptoSuite, Hash } from "./primitives.ts";

const EMPTY = new Uint8Array(0);
/**
 * HKDF(chaining_key, input_key_material, num_outputs) from Noise §4.3:
 * two or three HASHLEN-byte outputs (the hash's own when it has one).
 */
export function hkdf(
  hash: Hash,
  chainingKey: Uint8Array,
  inputKeyMaterial: Uint8Array,
  numOutputs: 2 | 3,
): Uint8Array[] {
  return hash.hkdf !== undefined
    ? hash.hkdf(chainingKey, inputKeyMaterial, numOutputs)
    : hkdfFromHmac(hash, chainingKey, inputKeyMaterial, numOutputs);
}

/**
 * The `h` InitializeSymmetric starts from, per hash and protocol name: a
 * name longer than HASHLEN (`Noise_XK_25519_ChaChaPoly_BLAKE2s` is 33
 * bytes) is hashed, once per handshake before this. Public data; callers copy it.
 */
const initialHashes = new WeakMap<Hash, Map<string, Uint8Array>>();
/** Names remembered per hash (protocol names come from code; this only bounds misuse). */
const INITIAL_HASH_LIMIT = 32;

function initialHash(hash: Hash, protocolName: string): Uint8Array {
  let byName = initialHashes.get(hash);
  if (byName === undefined) {
    byName = new Map();
    initialHashes.set(hash, byName);
  }
  let h = byName.get(protocolName);
  if (h === undefined) {
    const name = utf8(protocolName);
    if (name.length <= hash.hashLen) {
      h = new Uint8Array(hash.hashLen);
      h.set(name);
    } else {
      h = hash.digest(name);
    }
    if (byName.size >= INITIAL_HASH_LIMIT) byName.clear();
    byName.set(protocolName, h);
  }
  return h;
}

/** Cipher keys are 32 bytes; a 64-byte hash output is truncated (§5.2). */
function cipherKey(output: Uint8Array): Uint8Array {
  return output.length === 32 ? output : output.subarray(0, 32);
}

/** Chaining key `ck`, handshake hash `h` and CipherState `k`/`n`. */
export class SymmetricState {
  readonly #suite: CryptoSuite;
  /** The CipherState keyed by MixKey; encrypts handshake payloads and static keys. */
  readonly cipherState: CipherState;
  #ck: Uint8Array;
  #h: Uint8Array;

  /** InitializeSymmetric(protocol_name). */
  constructor(suite: CryptoSuite, protocolName: string) {
    this.#suite = suite;
    // Shared, never written in place: MixHash replaces h, Split copies it.
    this.#h = initialHash(suite.hash, protocolName);
    this.#ck = this.#h.slice();
    this.cipherState = new CipherState(suite.cipher);
  }

  /** MixKey(input_key_material). */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = hkdf(this.#suite.hash, this.#ck, inputKeyMaterial, 2);
    this.#ck.fill(0);
    this.#ck = ck;
    this.cipherState.initializeKey(cipherKey(tempK));
    tempK.fill(0);
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    this.#h = this.#suite.hash.digest(this.#h, data);
  }

  /** MixKeyAndHash(input_key_material): used for psk tokens. */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [ck, tempH, tempK] = hkdf(this.#suite.hash, this.#ck, inputKeyMaterial, 3);
    this.#ck.fill(0);
    this.#ck = ck;
    this.mixHash(tempH);
    this.cipherState.initializeKey(cipherKey(tempK));
    tempK.fill(0);
  }

  /** GetHandshakeHash(): a copy of h. */
  getHandshakeHash(): Uint8Array {
    return this.#h.slice();
  }

  /** EncryptAndHash(plaintext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipherState.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext). */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipherState.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /**
   * Split(): the initiator-to-responder and responder-to-initiator
   * CipherStates, and their buffer with the final handshake hash at 64. Wipes the chaining key,
   * which is no longer needed. Both keys and the hash share one buffer: a
   * session holds one array, ArrayBuffer and backing store for them (the
   * CipherStates keep offsets), not three of each (~0.5 KiB per session).
   */
  split(): [CipherState, CipherState, Uint8Array] {
    // Returns the shared buffer: keys at 0 and 32, the handshake hash from 64 on.
    const [k1, k2] = hkdf(this.#suite.hash, this.#ck, EMPTY, 2);
    const c1 = new CipherState(this.#suite.cipher);
    const c2 = new CipherState(this.#suite.cipher);
    const shared = new Uint8Array(64 + this.#h.length);
    c1.initializeKey(cipherKey(k1), shared, 0);
    c2.initializeKey(cipherKey(k2), shared, 32);
    shared.set(this.#h, 64);
    k1.fill(0);
    k2.fill(0);
    this.#ck.fill(0);
    this.cipherState.destroy();
    return [c1, c2, shared];
  }
}
