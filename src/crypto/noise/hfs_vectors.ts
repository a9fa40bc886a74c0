/**
 * Test vectors for the hybrid (`hfs`) session patterns, in the JSON shape of
 * the classical (cacophony) vectors plus the HFS inputs a third party needs:
 * `init_kem_seed` (the initiator's 64-byte ML-KEM-768 seed for `e1`),
 * `resp_kem_randomness` (the 32-byte randomness `m` of the responder's
 * encapsulation), and the server signature: `resp_pq_signing_seed`,
 * `pq_signature_hash` (h right after `ekem1`) and `pq_signature`
 * (deterministic ML-DSA-65 over `SERVER_SIGNATURE_DOMAIN ‖ 0x00 ‖ h`).
 *
 * No public HFS vectors with ML-KEM exist, so these are generated here from
 * fixed seeds, checked on both backends, and recomputed independently by
 * `tests/hfs_vectors.py` (Python `cryptography`).
 *
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { constantTimeEqual, fromHex, toHex, utf8 } from "../bytes.ts";
import { type Kem, pqSuite, signDeterministic } from "../pq/mod.ts";
import { createHandshake, type Handshake, x25519PublicFromPrivate } from "./handshake.ts";
import type { Backend } from "./primitives.ts";
import { SERVER_SIGNATURE_DOMAIN, serverSignatureMessage } from "./session_patterns.ts";
import type { NoiseTransport } from "./transport.ts";

/** One message of a vector: what was sent and what it became. */
export interface HfsVectorMessage {
  payload: string;
  ciphertext: string;
}

/** One hybrid vector (hex strings). */
export interface HfsVector {
  protocol_name: string;
  init_prologue: string;
  init_static: string;
  init_ephemeral: string;
  init_remote_static: string;
  init_kem_seed: string;
  resp_prologue: string;
  resp_static: string;
  resp_ephemeral: string;
  resp_kem_randomness: string;
  resp_pq_signing_seed: string;
  pq_signature_hash: string;
  pq_signature: string;
  handshake_hash: string;
  messages: HfsVectorMessage[];
}

/** The vector file: `{description, sources, vectors}` as the classical one. */
export interface HfsVectorFile {
  description: string;
  sources: string[];
  vectors: HfsVector[];
}

const PROTOCOLS = [
  "Noise_XKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s",
  "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2s",
  "Noise_XKhfs_25519+MLKEM768_ChaChaPoly_SHA256",
  "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b",
];

const PAYLOADS = [
  "Harvest now",
  "decrypt later?",
  "Not with ML-KEM",
  "transport one",
  "transport two",
  "transport three",
];

/** `length` bytes fixed by `label`: SHA-256 of the label and a counter, concatenated. */
function fixedBytes(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i * 32 < length; i++) {
    out.set(
      sha256(utf8(`commucat-hfs-vectors/${label}/${i}`)).subarray(0, length - i * 32),
      i * 32,
    );
  }
  return out;
}

/** A KEM whose encapsulation uses fixed randomness (noble: WebCrypto cannot). */
function derandomized(kem: Kem, randomness: Uint8Array): Kem {
  const noble = pqSuite("noble").kem;
  return { ...kem, encapsulate: (publicKey) => noble.encapsulate(publicKey, randomness) };
}

interface Inputs {
  name: string;
  prologue: Uint8Array;
  initStatic: Uint8Array;
  initEphemeral: Uint8Array;
  respStatic: Uint8Array;
  respEphemeral: Uint8Array;
  kemSeed: Uint8Array;
  kemRandomness: Uint8Array;
  signingSeed: Uint8Array;
  payloads: Uint8Array[];
}

interface Played {
  ciphertexts: Uint8Array[];
  handshakeHash: Uint8Array;
  signatureHash: Uint8Array;
}

/** Runs a vector's exchange on `backend`; both parties' views must agree. */
async function play(inputs: Inputs, backend: Backend): Promise<Played> {
  const { kem } = pqSuite(backend === "native" ? "webcrypto" : "noble");
  const kemKeyPair = await kem.keyPairFromSeed(inputs.kemSeed);
  const respStaticPublic = x25519PublicFromPrivate(inputs.respStatic, backend);
  const init: Handshake = createHandshake({
    protocolName: inputs.name,
    initiator: true,
    prologue: inputs.prologue,
    staticPrivate: inputs.initStatic,
    ephemeralPrivate: inputs.initEphemeral,
    remoteStatic: respStaticPublic,
    kemKeyPair,
    backend,
  });
  const resp: Handshake = createHandshake({
    protocolName: inputs.name,
    initiator: false,
    prologue: inputs.prologue,
    staticPrivate: inputs.respStatic,
    ephemeralPrivate: inputs.respEphemeral,
    kem: derandomized(kem, inputs.kemRandomness),
    backend,
  });
  const ciphertexts: Uint8Array[] = [];
  let transports: [NoiseTransport, NoiseTransport] | null = null;
  let signatureHash: Uint8Array | null = null;
  for (const [i, payload] of inputs.payloads.entries()) {
    const fromInitiator = i % 2 === 0;
    if (transports === null && init.isFinished) {
      if (!resp.isFinished) throw new Error("parties disagree on the end of the handshake");
      transports = [init.split(), resp.split()];
    }
    let ciphertext: Uint8Array;
    let received: Uint8Array;
    if (transports === null) {
      const [sender, receiver] = fromInitiator ? [init, resp] : [resp, init];
      ciphertext = await sender.writeMessageAsync(payload);
      received = await receiver.readMessageAsync(ciphertext);
      if (i === 1) {
        signatureHash = sender.payloadHash!;
        if (!constantTimeEqual(signatureHash, receiver.payloadHash!)) {
          throw new Error("the parties disagree on the hash after ekem1");
        }
      }
    } else {
      const [sender, receiver] = fromInitiator ? transports : [transports[1], transports[0]];
      ciphertext = sender.encrypt(payload);
      received = receiver.decrypt(ciphertext);
    }
    if (!constantTimeEqual(received, payload)) throw new Error(`message ${i} payload differs`);
    ciphertexts.push(ciphertext);
  }
  if (!constantTimeEqual(init.handshakeHash, resp.handshakeHash)) {
    throw new Error("the parties disagree on the handshake hash");
  }
  return {
    ciphertexts,
    handshakeHash: init.handshakeHash,
    signatureHash: signatureHash!,
  };
}

function inputsFor(name: string): Inputs {
  return {
    name,
    prologue: utf8("commucat"),
    initStatic: fixedBytes(`${name}/init_static`, 32),
    initEphemeral: fixedBytes(`${name}/init_ephemeral`, 32),
    respStatic: fixedBytes(`${name}/resp_static`, 32),
    respEphemeral: fixedBytes(`${name}/resp_ephemeral`, 32),
    kemSeed: fixedBytes(`${name}/init_kem_seed`, 64),
    kemRandomness: fixedBytes(`${name}/resp_kem_randomness`, 32),
    signingSeed: fixedBytes(`${name}/resp_pq_signing_seed`, 32),
    payloads: PAYLOADS.map(utf8),
  };
}

/**
 * Generates the vectors from fixed seeds on the noble backend, checks the
 * native (WebCrypto) backend produces the same bytes, and returns the file.
 */
export async function generateHfsVectors(): Promise<HfsVectorFile> {
  const vectors: HfsVector[] = [];
  for (const name of PROTOCOLS) {
    const inputs = inputsFor(name);
    const played = await play(inputs, "noble");
    const native = await play(inputs, "native");
    if (!native.ciphertexts.every((c, i) => constantTimeEqual(c, played.ciphertexts[i]))) {
      throw new Error(`${name}: the backends disagree`);
    }
    const signature = signDeterministic(
      inputs.signingSeed,
      serverSignatureMessage(played.signatureHash),
    );
    vectors.push({
      protocol_name: name,
      init_prologue: toHex(inputs.prologue),
      init_static: toHex(inputs.initStatic),
      init_ephemeral: toHex(inputs.initEphemeral),
      init_remote_static: toHex(x25519PublicFromPrivate(inputs.respStatic)),
      init_kem_seed: toHex(inputs.kemSeed),
      resp_prologue: toHex(inputs.prologue),
      resp_static: toHex(inputs.respStatic),
      resp_ephemeral: toHex(inputs.respEphemeral),
      resp_kem_randomness: toHex(inputs.kemRandomness),
      resp_pq_signing_seed: toHex(inputs.signingSeed),
      pq_signature_hash: toHex(played.signatureHash),
      pq_signature: toHex(signature),
      handshake_hash: toHex(played.handshakeHash),
      messages: inputs.payloads.map((payload, i) => ({
        payload: toHex(payload),
        ciphertext: toHex(played.ciphertexts[i]),
      })),
    });
  }
  return {
    description: "CommuCat Noise HFS (e1/ekem1) vectors with ML-KEM-768, and the server's " +
      `ML-DSA-65 signature over "${SERVER_SIGNATURE_DOMAIN}" || 0x00 || h after ekem1. ` +
      "Generated from fixed seeds by src/crypto/noise/hfs_vectors.ts (WebCrypto and noble " +
      "agree); recomputed independently by tests/hfs_vectors.py with Python cryptography.",
    sources: [
      "Noise Protocol Framework rev. 34; Noise HFS extension (tokens e1, ekem1); FIPS 203; FIPS 204",
    ],
    vectors,
  };
}

/**
 * Replays one vector on `backend` and checks every ciphertext, the handshake
 * hash and the signature. Throws an Error naming the first difference.
 */
export async function checkHfsVector(vector: HfsVector, backend: Backend): Promise<void> {
  const inputs: Inputs = {
    name: vector.protocol_name,
    prologue: fromHex(vector.init_prologue),
    initStatic: fromHex(vector.init_static, 32),
    initEphemeral: fromHex(vector.init_ephemeral, 32),
    respStatic: fromHex(vector.resp_static, 32),
    respEphemeral: fromHex(vector.resp_ephemeral, 32),
    kemSeed: fromHex(vector.init_kem_seed, 64),
    kemRandomness: fromHex(vector.resp_kem_randomness, 32),
    signingSeed: fromHex(vector.resp_pq_signing_seed, 32),
    payloads: vector.messages.map((m) => fromHex(m.payload)),
  };
  const played = await play(inputs, backend);
  played.ciphertexts.forEach((c, i) => {
    if (toHex(c) !== vector.messages[i].ciphertext) throw new Error(`message ${i} differs`);
  });
  if (toHex(played.handshakeHash) !== vector.handshake_hash) throw new Error("handshake hash");
  if (toHex(played.signatureHash) !== vector.pq_signature_hash) throw new Error("signature hash");
  const { signer } = pqSuite(backend === "native" ? "webcrypto" : "noble");
  const identity = await signer.keyPairFromSeed(inputs.signingSeed);
  const ok = await signer.verify(
    identity.publicKey,
    serverSignatureMessage(played.signatureHash),
    fromHex(vector.pq_signature),
  );
  if (!ok) throw new Error("pq_signature does not verify");
}
