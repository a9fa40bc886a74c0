/**
 * CommuCat cryptography: byte helpers, the Noise framework, Ed25519, BLAKE3,
 * device keys, the handshake zero-knowledge proof, device certificates,
 * identifiers, rotation proofs and MLS KeyPackage checks (`./mls/`); post-quantum primitives are `./pq/mod.ts`.
 * Depends on nothing of ours.
 *
 * @module
 */
export * from "./bytes.ts";
export * from "./blake3.ts";
export * from "./certificate.ts";
export * from "./device_keys.ts";
export * from "./device_pq_keys.ts";
export * from "./device_key_package.ts";
export * from "./mls/mod.ts";
export * from "./ed25519.ts";
export * from "./id.ts";
export * from "./rotation_proof.ts";
export * from "./zkp.ts";
export {
  answerRekey,
  type Backend,
  createHandshake,
  cryptoSuite,
  EpochTransport,
  findSessionPattern,
  generateKeyPair,
  type Handshake,
  type HandshakeOptions,
  hybridOf,
  type KeyPair,
  MAX_MESSAGE_LENGTH,
  MAX_TRANSPORT_PLAINTEXT,
  NoiseError,
  type NoiseTransport,
  RekeyInitiator,
  SERVER_SIGNATURE_DOMAIN,
  serverSignatureMessage,
  SESSION_PATTERN_NAMES,
  type SessionPattern,
  sessionPattern,
} from "./noise/mod.ts";
export {
  describeNoiseKey,
  describeNoiseKeyForAck,
  type NoiseKey,
  type NoiseKeyring,
  StaticKeyring,
} from "./noise/mod.ts";
