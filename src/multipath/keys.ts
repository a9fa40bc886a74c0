/**
 * Keys of a multipath session (PROTOCOL.md "Multipath"): one 32-byte secret
 * the server sends inside the encrypted Ack, bound to the session's Noise
 * handshake hash with HKDF-SHA256. The handshake hash alone is not secret
 * (anyone who saw the handshake transcript can compute it), so it is the
 * salt, and the Ack's secret the key material: only the two ends know the
 * result, and it names this session and no other.
 *
 * From it: the path-set id a new path names, the attach tokens (HMAC of
 * the attach counter, single use), the server's attach confirmation, and
 * one ACK-MAC key per direction (so an ACK cannot be reflected).
 *
 * @module
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { type _HMAC, hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { constantTimeEqual } from "../crypto/mod.ts";

/** Bytes of the secret the server sends in the Ack. */
export const PATH_SECRET_BYTES = 32;
/** Bytes of the path-set id. */
export const SET_ID_BYTES = 16;
/** Bytes of an attach token. */
export const ATTACH_TOKEN_BYTES = 32;
/** Bytes of an ACK or attach-confirmation MAC. */
export const MAC_BYTES = 16;
/** Largest attach counter (u32). */
export const MAX_ATTACH_COUNTER = 0xffff_ffff;

/** Which end of the session. */
export type Side = "client" | "server";

const encoder = new TextEncoder();
const label = (text: string) => encoder.encode(text);

function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}

function u64be(n: number, out = new Uint8Array(8)): Uint8Array {
  // n ≤ 2^53 − 1: two u32 halves, no BigInt.
  const high = Math.floor(n / 0x1_0000_0000);
  const low = n >>> 0;
  out[0] = high >>> 24;
  out[1] = (high >>> 16) & 0xff;
  out[2] = (high >>> 8) & 0xff;
  out[3] = high & 0xff;
  out[4] = low >>> 24;
  out[5] = (low >>> 16) & 0xff;
  out[6] = (low >>> 8) & 0xff;
  out[7] = low & 0xff;
  return out;
}

/**
 * HMAC-SHA256 under one key with the key's two padded blocks hashed once:
 * each MAC clones that state into a scratch instance, so it costs two
 * SHA-256 compressions instead of four (an ACK goes each way about every
 * 25 ms per session, and each is made and checked).
 */
class KeyedMac {
  readonly #base: _HMAC<ReturnType<typeof sha256.create>>;
  #scratch: _HMAC<ReturnType<typeof sha256.create>> | undefined;
  readonly #word = new Uint8Array(8);

  constructor(key: Uint8Array) {
    this.#base = hmac.create(sha256, key);
  }

  /** The first {@link MAC_BYTES} of HMAC(key, u64be(n)). */
  ofU64(n: number): Uint8Array {
    return this.of(u64be(n, this.#word));
  }

  /** The first {@link MAC_BYTES} of HMAC(key, message). */
  of(message: Uint8Array): Uint8Array {
    const mac = this.#scratch = this.#base._cloneInto(this.#scratch);
    return mac.update(message).digest().subarray(0, MAC_BYTES);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** The keys one multipath session derives (both ends compute the same). */
export class PathKeys {
  /** Names the session on an attach; not secret on its own (the token is). */
  readonly setId: Uint8Array;
  readonly #attach: Uint8Array;
  readonly #ack: Record<Side, KeyedMac>;

  private constructor(okm: Uint8Array) {
    this.setId = okm.slice(0, SET_ID_BYTES);
    this.#attach = okm.slice(32, 64);
    this.#ack = {
      client: new KeyedMac(okm.slice(64, 96)),
      server: new KeyedMac(okm.slice(96, 128)),
    };
    okm.fill(0);
  }

  /** Derives the keys from the Ack's secret and the handshake hash. */
  static derive(secret: Uint8Array, handshakeHash: Uint8Array): PathKeys {
    if (secret.length !== PATH_SECRET_BYTES) {
      throw new Error(`multipath secret must be ${PATH_SECRET_BYTES} bytes`);
    }
    return new PathKeys(hkdf(sha256, secret, handshakeHash, label("commucat multipath v1"), 128));
  }

  /** The token that attaches path number `counter` (each counter is accepted once). */
  attachToken(counter: number): Uint8Array {
    return hmac(sha256, this.#attach, concat(label("attach"), this.setId, u32be(counter)));
  }

  /** True when `token` attaches `counter` to this session (constant time). */
  verifyAttach(counter: number, token: Uint8Array): boolean {
    return token.length === ATTACH_TOKEN_BYTES &&
      constantTimeEqual(this.attachToken(counter), token);
  }

  /** The server's proof that it accepted attach `counter` (the client checks it). */
  attachedMac(counter: number): Uint8Array {
    return hmac(sha256, this.#attach, concat(label("attached"), this.setId, u32be(counter)))
      .subarray(0, MAC_BYTES);
  }

  /** True when `mac` is the server's confirmation of attach `counter`. */
  verifyAttached(counter: number, mac: Uint8Array): boolean {
    return mac.length === MAC_BYTES && constantTimeEqual(this.attachedMac(counter), mac);
  }

  /** The MAC of an ACK sent by `from` covering units up to `cumulative`. */
  ackMac(from: Side, cumulative: number): Uint8Array {
    return this.#ack[from].ofU64(cumulative);
  }

  /** The MAC of `from`'s END: it sent nothing after unit `last`. */
  endMac(from: Side, last: number): Uint8Array {
    return this.#ack[from].of(concat(label("end"), u64be(last)));
  }

  /** True when `mac` is `from`'s END after `last` (constant time). */
  verifyEnd(from: Side, last: number, mac: Uint8Array): boolean {
    return mac.length === MAC_BYTES && constantTimeEqual(this.endMac(from, last), mac);
  }

  /** True when `mac` is `from`'s ACK of `cumulative` (constant time). */
  verifyAck(from: Side, cumulative: number, mac: Uint8Array): boolean {
    return mac.length === MAC_BYTES && constantTimeEqual(this.ackMac(from, cumulative), mac);
  }
}
