/**
 * Shadowsocks AEAD framing (SIP004), both directions, as shadowsocks-libev
 * speaks it:
 *
 * - the master key is OpenSSL's `EVP_BytesToKey(MD5, password)`;
 * - each direction starts with a random salt (as long as the key) and uses
 *   the subkey `HKDF-SHA1(key, salt, "ss-subkey")`;
 * - then chunks: `[len (2 bytes BE, ≤ 0x3FFF)] tag ‖ [payload] tag`, each
 *   sealed with its own nonce, a 12-byte little-endian counter starting at 0.
 *
 * Ciphers come from `node:crypto` (chacha20-ietf-poly1305, aes-256-gcm).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  createHash,
  type DecipherGCM,
  hkdfSync,
  randomBytes,
} from "node:crypto";

/** The AEAD methods this build speaks (shadowsocks-libev names). */
export const SHADOWSOCKS_METHODS = ["chacha20-ietf-poly1305", "aes-256-gcm"] as const;
/** One of {@link SHADOWSOCKS_METHODS}. */
export type ShadowsocksMethod = typeof SHADOWSOCKS_METHODS[number];

/** Largest payload of one chunk (SIP004). */
export const MAX_PAYLOAD = 0x3fff;
/** AEAD tag length of both ciphers. */
export const TAG_LENGTH = 16;
const KEY_LENGTH = 32;
const NONCE_LENGTH = 12;
const NODE_CIPHER: Record<ShadowsocksMethod, "chacha20-poly1305" | "aes-256-gcm"> = {
  "chacha20-ietf-poly1305": "chacha20-poly1305",
  "aes-256-gcm": "aes-256-gcm",
};

/** A method with its master key, derived once from the password. */
export interface ShadowsocksKey {
  readonly method: ShadowsocksMethod;
  /** The master key; never logged. */
  readonly key: Uint8Array;
  /** Salt length of each direction (= key length). */
  readonly saltLength: number;
}

/** OpenSSL `EVP_BytesToKey` with MD5, one iteration, no salt: shadowsocks' password → key. */
export function evpBytesToKey(password: string, length: number): Uint8Array {
  const pass = new TextEncoder().encode(password);
  const out = new Uint8Array(length);
  let prev = new Uint8Array(0);
  for (let off = 0; off < length;) {
    prev = new Uint8Array(createHash("md5").update(prev).update(pass).digest());
    out.set(prev.subarray(0, Math.min(prev.length, length - off)), off);
    off += prev.length;
  }
  return out;
}

/** Derives the master key of `method` from `password`. */
export function shadowsocksKey(method: ShadowsocksMethod, password: string): ShadowsocksKey {
  return { method, key: evpBytesToKey(password, KEY_LENGTH), saltLength: KEY_LENGTH };
}

/** The per-direction subkey: HKDF-SHA1(key, salt, info "ss-subkey"). */
export function subkey(key: ShadowsocksKey, salt: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync("sha1", key.key, salt, "ss-subkey", KEY_LENGTH));
}

/** A 12-byte nonce counter, incremented little-endian after each seal/open. */
class Nonce {
  readonly bytes = new Uint8Array(NONCE_LENGTH);
  next(): Uint8Array {
    const current = this.bytes.slice();
    for (let i = 0; i < NONCE_LENGTH; i++) {
      if (++this.bytes[i] !== 0) break;
    }
    return current;
  }
}

/** Seals a direction's chunks. */
export class ChunkSealer {
  readonly #cipher: "chacha20-poly1305" | "aes-256-gcm";
  readonly #subkey: Uint8Array;
  readonly #nonce = new Nonce();
  /** The salt to send before the first chunk. */
  readonly salt: Uint8Array;

  constructor(key: ShadowsocksKey, salt: Uint8Array = new Uint8Array(randomBytes(key.saltLength))) {
    this.#cipher = NODE_CIPHER[key.method];
    this.salt = salt;
    this.#subkey = subkey(key, salt);
  }

  #seal(plain: Uint8Array): Uint8Array {
    // Both ciphers default to a 16-byte tag (TAG_LENGTH).
    // The AEAD interface of both ciphers is GCM's (getAuthTag/setAuthTag).
    const c = createCipheriv(this.#cipher, this.#subkey, this.#nonce.next()) as CipherGCM;
    return new Uint8Array(Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]));
  }

  /** Seals `data` as one or more chunks (each ≤ {@link MAX_PAYLOAD} bytes of payload). */
  seal(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let off = 0; off < data.length; off += MAX_PAYLOAD) {
      const payload = data.subarray(off, Math.min(off + MAX_PAYLOAD, data.length));
      out.push(this.#seal(new Uint8Array([payload.length >> 8, payload.length & 0xff])));
      out.push(this.#seal(payload));
    }
    return out;
  }
}

/** Thrown when a chunk does not authenticate (wrong key, tampering, garbage). */
export class ShadowsocksAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShadowsocksAuthError";
  }
}

/**
 * Opens a direction's chunks from bytes as they arrive: feed it, then take
 * payloads. A chunk that fails to authenticate throws
 * {@link ShadowsocksAuthError}; after that the opener is unusable.
 */
export class ChunkOpener {
  readonly #key: ShadowsocksKey;
  readonly #cipher: "chacha20-poly1305" | "aes-256-gcm";
  readonly #nonce = new Nonce();
  #subkey: Uint8Array | null = null;
  #buffer = new Uint8Array(0);
  /** Payload length of the chunk whose length was opened, or -1. */
  #pending = -1;
  /** The peer's salt, once read. */
  salt: Uint8Array | null = null;

  constructor(key: ShadowsocksKey) {
    this.#key = key;
    this.#cipher = NODE_CIPHER[key.method];
  }

  /** Bytes received but not yet opened (bounded by one chunk). */
  get buffered(): number {
    return this.#buffer.length;
  }

  #open(sealed: Uint8Array): Uint8Array {
    const d = createDecipheriv(this.#cipher, this.#subkey!, this.#nonce.next()) as DecipherGCM;
    d.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    try {
      return new Uint8Array(
        Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_LENGTH)), d.final()]),
      );
    } catch {
      throw new ShadowsocksAuthError("shadowsocks chunk failed to authenticate");
    }
  }

  /** Adds received bytes and returns the payloads now complete (possibly none). */
  push(bytes: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.#buffer.length + bytes.length);
    joined.set(this.#buffer);
    joined.set(bytes, this.#buffer.length);
    let off = 0;
    const out: Uint8Array[] = [];
    for (;;) {
      if (!this.#subkey) {
        if (joined.length - off < this.#key.saltLength) break;
        this.salt = joined.slice(off, off + this.#key.saltLength);
        this.#subkey = subkey(this.#key, this.salt);
        off += this.#key.saltLength;
      } else if (this.#pending < 0) {
        if (joined.length - off < 2 + TAG_LENGTH) break;
        const len = this.#open(joined.subarray(off, off + 2 + TAG_LENGTH));
        const n = ((len[0] << 8) | len[1]) & MAX_PAYLOAD;
        if (n === 0 || n !== ((len[0] << 8) | len[1])) {
          throw new ShadowsocksAuthError("shadowsocks chunk length out of range");
        }
        this.#pending = n;
        off += 2 + TAG_LENGTH;
      } else {
        if (joined.length - off < this.#pending + TAG_LENGTH) break;
        out.push(this.#open(joined.subarray(off, off + this.#pending + TAG_LENGTH)));
        off += this.#pending + TAG_LENGTH;
        this.#pending = -1;
      }
    }
    this.#buffer = joined.slice(off);
    return out;
  }
}
