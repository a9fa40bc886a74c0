/**
 * Cross-implementation check that needs no shared data: our Noise against
 * `noise-protocol` from npm (libsodium: X25519, ChaCha20-Poly1305 and
 * BLAKE2b all in C), for `Noise_{XK,IK,XX}_25519_ChaChaPoly_BLAKE2b`, with
 * either side initiating, transport messages both ways and tampering refused.
 * The shared vectors (`vectors_test.ts`) are skipped on a clean clone; this
 * test is what still compares us with someone else's Noise there.
 *
 * libsodium is a Node-API addon, so it needs `--allow-ffi` (the `test` task
 * grants it); without it the tests are registered as ignored, saying so.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { utf8 } from "../bytes.ts";
import { NoiseError } from "./errors.ts";
import { createHandshake, generateKeyPair } from "./handshake.ts";
import type { Backend } from "./primitives.ts";
import type { NoiseTransport } from "./transport.ts";

/** The subset of noise-protocol's API used here (it ships no types). */
interface TheirKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}
interface TheirNoise {
  keygen(): TheirKeyPair;
  initialize(
    pattern: string,
    initiator: boolean,
    prologue: Uint8Array,
    s?: TheirKeyPair | null,
    e?: TheirKeyPair | null,
    rs?: Uint8Array | null,
  ): unknown;
  writeMessage:
    & ((state: unknown, payload: Uint8Array, out: Uint8Array) => TheirSplit | undefined)
    & {
      bytes: number;
    };
  readMessage:
    & ((state: unknown, message: Uint8Array, out: Uint8Array) => TheirSplit | undefined)
    & {
      bytes: number;
    };
  destroy(state: unknown): void;
}
/** Each half is a `key (32) || nonce (8)` cipher state. */
interface TheirSplit {
  tx: Uint8Array;
  rx: Uint8Array;
}
interface TheirCipherState {
  encryptWithAd: ((state: Uint8Array, out: Uint8Array, ad: Uint8Array, pt: Uint8Array) => void) & {
    bytesWritten: number;
  };
  decryptWithAd: ((state: Uint8Array, out: Uint8Array, ad: Uint8Array, ct: Uint8Array) => void) & {
    bytesWritten: number;
  };
}

const PATTERNS = ["XK", "IK", "XX"] as const;
type Pattern = typeof PATTERNS[number];
const BACKENDS: readonly Backend[] = ["native", "noble"];
const PROLOGUE = utf8("commucat interop");
const TAG = 16;
const NO_AD = new Uint8Array(0);
const SKIP_REASON = "skipped: needs --allow-ffi for libsodium";

const ffiGranted = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
if (!ffiGranted) {
  console.warn(`WARNING: Noise interop tests ${SKIP_REASON}; run them via \`deno task test\`.`);
}

async function loadTheirs(): Promise<{ noise: TheirNoise; cipherState: TheirCipherState }> {
  const noise = (await import("noise-protocol/index.js")).default as TheirNoise;
  const createCipher = (await import("noise-protocol/cipher.js")).default as () => unknown;
  const createCipherState = (await import("noise-protocol/cipher-state.js")).default as (
    algs: { cipher: unknown },
  ) => TheirCipherState;
  return { noise, cipherState: createCipherState({ cipher: createCipher() }) };
}

/** One side of a handshake, ours or theirs, behind the same three calls. */
interface Party {
  write(payload: Uint8Array): Uint8Array;
  read(message: Uint8Array): Uint8Array;
  readonly finished: boolean;
  /** The transport once finished. */
  transport(): { encrypt(pt: Uint8Array): Uint8Array; decrypt(ct: Uint8Array): Uint8Array };
}

function ourParty(
  pattern: Pattern,
  initiator: boolean,
  backend: Backend,
  staticPrivate: Uint8Array,
  remoteStatic?: Uint8Array,
): Party {
  const hs = createHandshake({
    protocolName: `Noise_${pattern}_25519_ChaChaPoly_BLAKE2b`,
    initiator,
    prologue: PROLOGUE,
    staticPrivate,
    remoteStatic,
    backend,
  });
  let transport: NoiseTransport | undefined;
  return {
    write: (payload) => hs.writeMessage(payload),
    read: (message) => hs.readMessage(message),
    get finished() {
      return hs.isFinished;
    },
    transport() {
      transport ??= hs.split();
      return transport;
    },
  };
}

function theirParty(
  theirs: { noise: TheirNoise; cipherState: TheirCipherState },
  pattern: Pattern,
  initiator: boolean,
  staticKeys: TheirKeyPair,
  remoteStatic?: Uint8Array,
): Party {
  const { noise, cipherState } = theirs;
  const state = noise.initialize(
    pattern,
    initiator,
    Buffer.from(PROLOGUE),
    staticKeys,
    null,
    remoteStatic === undefined ? null : Buffer.from(remoteStatic),
  );
  let keys: { send: Uint8Array; recv: Uint8Array } | undefined;
  const done = (result: TheirSplit | undefined, wroteLast: boolean) => {
    if (result === undefined) return;
    noise.destroy(state);
    // noise-protocol hands out Split()'s first CipherState as `tx` to whoever wrote the last
    // handshake message, not to the initiator as Noise §5.2 says; that agrees with the spec
    // only when the initiator writes last (XK, XX), so IK's transport keys come swapped.
    // Put them back in the spec's order: the initiator sends with the first.
    const first = wroteLast ? result.tx : result.rx;
    const second = wroteLast ? result.rx : result.tx;
    keys = initiator ? { send: first, recv: second } : { send: second, recv: first };
  };
  return {
    write(payload) {
      const out = Buffer.alloc(32 + 32 + TAG + payload.length + TAG);
      done(noise.writeMessage(state, Buffer.from(payload), out), true);
      return new Uint8Array(out.subarray(0, noise.writeMessage.bytes));
    },
    read(message) {
      const out = Buffer.alloc(message.length);
      done(noise.readMessage(state, Buffer.from(message), out), false);
      return new Uint8Array(out.subarray(0, noise.readMessage.bytes));
    },
    get finished() {
      return keys !== undefined;
    },
    transport() {
      const { send, recv } = keys!;
      return {
        encrypt(pt) {
          const out = Buffer.alloc(pt.length + TAG);
          cipherState.encryptWithAd(send, out, NO_AD, Buffer.from(pt));
          return new Uint8Array(out.subarray(0, cipherState.encryptWithAd.bytesWritten));
        },
        decrypt(ct) {
          const out = Buffer.alloc(ct.length);
          cipherState.decryptWithAd(recv, out, NO_AD, Buffer.from(ct));
          return new Uint8Array(out.subarray(0, cipherState.decryptWithAd.bytesWritten));
        },
      };
    },
  };
}

/** Runs the handshake with a payload on every message; each payload must arrive intact. */
function handshake(initiator: Party, responder: Party): void {
  let [sender, receiver] = [initiator, responder];
  for (let i = 0; !initiator.finished || !responder.finished; i++) {
    assert.ok(i < 3, "handshake did not finish within three messages");
    const payload = utf8(`handshake payload ${i}`);
    assert.deepEqual(receiver.read(sender.write(payload)), payload);
    [sender, receiver] = [receiver, sender];
  }
}

/** Transport messages both ways, several each so nonces advance in step. */
function exchange(a: Party, b: Party): void {
  const ta = a.transport();
  const tb = b.transport();
  for (let i = 0; i < 3; i++) {
    const ab = utf8(`a to b #${i} ${"x".repeat(i * 300)}`); // crosses the 512-byte native path
    assert.deepEqual(tb.decrypt(ta.encrypt(ab)), ab);
    const ba = utf8(`b to a #${i}`);
    assert.deepEqual(ta.decrypt(tb.encrypt(ba)), ba);
  }
}

/** Keys for a run; the initiator knows the responder's static key in XK and IK. */
function setUp(theirs: { noise: TheirNoise }, pattern: Pattern) {
  const ours = generateKeyPair();
  const theirKeys = theirs.noise.keygen();
  const needsRemote = pattern !== "XX";
  return { ours, theirKeys, needsRemote };
}

for (const pattern of PATTERNS) {
  for (const backend of BACKENDS) {
    const name = `Noise_${pattern}_25519_ChaChaPoly_BLAKE2b interoperates with noise-protocol ` +
      `(libsodium), ${backend} backend`;
    Deno.test({
      name: ffiGranted ? `${name}: we initiate` : `${name}: we initiate (${SKIP_REASON})`,
      ignore: !ffiGranted,
      fn: async () => {
        const theirs = await loadTheirs();
        const { ours, theirKeys, needsRemote } = setUp(theirs, pattern);
        const us = ourParty(
          pattern,
          true,
          backend,
          ours.privateKey,
          needsRemote ? theirKeys.publicKey : undefined,
        );
        const them = theirParty(theirs, pattern, false, theirKeys);
        handshake(us, them);
        exchange(us, them);
      },
    });
    Deno.test({
      name: ffiGranted ? `${name}: they initiate` : `${name}: they initiate (${SKIP_REASON})`,
      ignore: !ffiGranted,
      fn: async () => {
        const theirs = await loadTheirs();
        const { ours, theirKeys, needsRemote } = setUp(theirs, pattern);
        const them = theirParty(
          theirs,
          pattern,
          true,
          theirKeys,
          needsRemote ? ours.publicKey : undefined,
        );
        const us = ourParty(pattern, false, backend, ours.privateKey);
        handshake(them, us);
        exchange(them, us);
      },
    });
  }
}

const isDecryptFailed = (err: unknown) =>
  err instanceof NoiseError && err.code === "decrypt-failed";

Deno.test({
  name: ffiGranted
    ? "a tampered noise-protocol message is refused by us, and ours by them"
    : `a tampered noise-protocol message is refused by us, and ours by them (${SKIP_REASON})`,
  ignore: !ffiGranted,
  fn: async () => {
    const theirs = await loadTheirs();
    for (const pattern of PATTERNS) {
      // A handshake message from them with one tag byte flipped: our read fails.
      {
        const { ours, theirKeys, needsRemote } = setUp(theirs, pattern);
        const them = theirParty(
          theirs,
          pattern,
          true,
          theirKeys,
          needsRemote ? ours.publicKey : undefined,
        );
        const us = ourParty(pattern, false, "native", ours.privateKey);
        let message = them.write(utf8("hello"));
        if (pattern === "XX") {
          // XX's first message is in the clear; its third is the first one they encrypt.
          us.read(message);
          them.read(us.write(utf8("hi")));
          message = them.write(utf8("hello again"));
        }
        message[message.length - 1] ^= 0x01;
        assert.throws(() => us.read(message), isDecryptFailed, `${pattern} handshake`);
      }
      // Transport messages: a flipped bit is refused on either side, the original still opens.
      {
        const { ours, theirKeys, needsRemote } = setUp(theirs, pattern);
        const us = ourParty(
          pattern,
          true,
          "native",
          ours.privateKey,
          needsRemote ? theirKeys.publicKey : undefined,
        );
        const them = theirParty(theirs, pattern, false, theirKeys);
        handshake(us, them);
        const fromThem = them.transport().encrypt(utf8("from them"));
        const bad = fromThem.slice();
        bad[0] ^= 0x80;
        assert.throws(() => us.transport().decrypt(bad), isDecryptFailed, `${pattern} transport`);
        const fromUs = us.transport().encrypt(utf8("from us"));
        const badToThem = fromUs.slice();
        badToThem[badToThem.length - 1] ^= 0x01;
        assert.throws(() => them.transport().decrypt(badToThem), `${pattern}: they refuse ours`);
      }
    }
  },
});
