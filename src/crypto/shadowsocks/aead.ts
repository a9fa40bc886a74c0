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

/**
 * A 12-byte nonce counter: `bytes` is the current nonce (the cipher copies it
 * when it is created), `advance` counts on, little-endian, after each seal/open.
 */
class Nonce {
  readonly bytes = new Uint8Array(NONCE_LENGTH);
  advance(): void {
    for (let i = 0; i < NONCE_LENGTH; i++) {
      if (++this.bytes[i] !== 0) break;
    }
  }
}

/** Size of a sealed chunk carrying `n` payload bytes. */
function sealedSize(n: number): number {
  return 2 + TAG_LENGTH + n + TAG_LENGTH;
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

  /** The wire buffer {@link sealWire} reuses (grown on demand). */
  #wire = new Uint8Array(0);
  #saltSent = false;
  readonly #length = new Uint8Array(2);

  /** Seals `plain` into `out` at `off`; returns the offset after its tag. */
  #sealAt(plain: Uint8Array, out: Uint8Array, off: number): number {
    // Both ciphers default to a 16-byte tag (TAG_LENGTH); their AEAD
    // interface is GCM's (getAuthTag). The output is copied straight into
    // the wire buffer: no concatenation, no second copy.
    const c = createCipheriv(this.#cipher, this.#subkey, this.#nonce.bytes) as CipherGCM;
    this.#nonce.advance();
    const body = c.update(plain);
    out.set(body, off);
    off += body.length;
    const rest = c.final();
    if (rest.length > 0) out.set(rest, off), off += rest.length;
    out.set(c.getAuthTag(), off);
    return off + TAG_LENGTH;
  }

  /**
   * Seals `data` as the next bytes of the direction: the salt before the
   * first chunk, then one chunk per {@link MAX_PAYLOAD} bytes, all in one
   * buffer so the caller makes one write. The result is a view of a buffer
   * this sealer reuses: write it before the next call.
   */
  sealWire(data: Uint8Array): Uint8Array {
    const chunks = Math.ceil(data.length / MAX_PAYLOAD);
    const salt = this.#saltSent ? 0 : this.salt.length;
    const size = salt + chunks * sealedSize(0) + data.length;
    if (this.#wire.length < size) {
      this.#wire = new Uint8Array(Math.max(size, 2 * this.#wire.length));
    }
    const out = this.#wire;
    let off = 0;
    if (!this.#saltSent) {
      out.set(this.salt);
      off = salt;
      this.#saltSent = true;
    }
    for (let from = 0; from < data.length; from += MAX_PAYLOAD) {
      const payload = data.subarray(from, Math.min(from + MAX_PAYLOAD, data.length));
      this.#length[0] = payload.length >> 8;
      this.#length[1] = payload.length & 0xff;
      off = this.#sealAt(this.#length, out, off);
      off = this.#sealAt(payload, out, off);
    }
    return out.subarray(0, off);
  }

  /**
   * Seals `data` as one or more chunks (each ≤ {@link MAX_PAYLOAD} bytes of
   * payload), each sealed length and payload its own array, without the salt.
   */
  seal(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let from = 0; from < data.length; from += MAX_PAYLOAD) {
      const payload = data.subarray(from, Math.min(from + MAX_PAYLOAD, data.length));
      const length = new Uint8Array([payload.length >> 8, payload.length & 0xff]);
      const sealedLength = new Uint8Array(2 + TAG_LENGTH);
      this.#sealAt(length, sealedLength, 0);
      const sealedPayload = new Uint8Array(payload.length + TAG_LENGTH);
      this.#sealAt(payload, sealedPayload, 0);
      out.push(sealedLength, sealedPayload);
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

/** Largest unit the opener reads: a sealed payload of {@link MAX_PAYLOAD} bytes. */
const MAX_UNIT = MAX_PAYLOAD + TAG_LENGTH;

/**
 * Opens a direction's chunks from bytes as they arrive: feed it, then take
 * payloads. A chunk that fails to authenticate throws
 * {@link ShadowsocksAuthError}; after that the opener is unusable.
 *
 * Complete units (salt, sealed length, sealed payload) are opened where they
 * lie in the bytes fed; only a unit split across two reads is copied, into
 * one buffer the opener keeps.
 */
export class ChunkOpener {
  readonly #key: ShadowsocksKey;
  readonly #cipher: "chacha20-poly1305" | "aes-256-gcm";
  readonly #nonce = new Nonce();
  #subkey: Uint8Array | null = null;
  /** The start of a unit split across reads, and how many of its bytes arrived. */
  #partial: Uint8Array | null = null;
  #partialLength = 0;
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
    return this.#partialLength;
  }

  #open(sealed: Uint8Array): Uint8Array {
    const d = createDecipheriv(this.#cipher, this.#subkey!, this.#nonce.bytes) as DecipherGCM;
    this.#nonce.advance();
    d.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    const body = d.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
    try {
      d.final(); // a stream cipher: nothing more comes out
    } catch {
      body.fill(0); // never hand out unauthenticated plaintext
      throw new ShadowsocksAuthError("shadowsocks chunk failed to authenticate");
    }
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  }

  /** Bytes of the next unit. */
  #need(): number {
    if (!this.#subkey) return this.#key.saltLength;
    return this.#pending < 0 ? 2 + TAG_LENGTH : this.#pending + TAG_LENGTH;
  }

  /** Consumes one complete unit; a payload goes to `out`. */
  #unit(unit: Uint8Array, out: Uint8Array[]): void {
    if (!this.#subkey) {
      this.salt = unit.slice();
      this.#subkey = subkey(this.#key, this.salt);
    } else if (this.#pending < 0) {
      const len = this.#open(unit);
      const n = ((len[0] << 8) | len[1]) & MAX_PAYLOAD;
      if (n === 0 || n !== ((len[0] << 8) | len[1])) {
        throw new ShadowsocksAuthError("shadowsocks chunk length out of range");
      }
      this.#pending = n;
    } else {
      out.push(this.#open(unit));
      this.#pending = -1;
    }
  }

  /** Adds received bytes and returns the payloads now complete (possibly none). */
  push(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let off = 0;
    while (off < bytes.length) {
      const need = this.#need();
      if (this.#partialLength > 0 || bytes.length - off < need) {
        // A split unit: gather it in the partial buffer.
        this.#partial ??= new Uint8Array(MAX_UNIT);
        const take = Math.min(need - this.#partialLength, bytes.length - off);
        this.#partial.set(bytes.subarray(off, off + take), this.#partialLength);
        this.#partialLength += take;
        off += take;
        if (this.#partialLength < need) break;
        this.#partialLength = 0;
        this.#unit(this.#partial.subarray(0, need), out);
      } else {
        this.#unit(bytes.subarray(off, off + need), out);
        off += need;
      }
    }
    return out;
  }
}
