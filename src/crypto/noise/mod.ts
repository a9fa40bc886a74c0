/**
 * The Noise Protocol Framework (revision 34) for CommuCat sessions:
 * `Noise_{NN,XX,XK,IK}[pskN...]_25519_ChaChaPoly_{BLAKE2s,BLAKE2b,SHA256}` and
 * the hybrid `Noise_{XK,IK}hfs_25519+MLKEM768_ChaChaPoly_<hash>` (Noise HFS,
 * ML-KEM-768; messages with a KEM step use `writeMessageAsync`/`readMessageAsync`)
 * on a native (node:crypto, WebCrypto) or a portable (noble) backend.
 *
 * ```ts
 * const server = generateKeyPair();
 * const client = createHandshake({
 *   protocolName: "Noise_XK_25519_ChaChaPoly_BLAKE2s",
 *   initiator: true,
 *   staticPrivate: generateKeyPair().privateKey,
 *   remoteStatic: server.publicKey,
 * });
 * const msg1 = client.writeMessage();
 * // ... exchange until client.isFinished, then:
 * const transport = client.split();
 * ```
 *
 * @module
 */

export { NoiseError, type NoiseErrorCode } from "./errors.ts";
export {
  type Backend,
  type Cipher,
  type CryptoSuite,
  type Dh,
  type Hash,
  type KeyPair,
  MAX_MESSAGE_LENGTH,
  MAX_NONCE,
  TAG_LENGTH,
} from "./primitives.ts";
export {
  createHandshake,
  cryptoSuite,
  generateKeyPair,
  type Handshake,
  type HandshakeOptions,
  x25519PublicFromPrivate,
} from "./handshake.ts";
export { MAX_TRANSPORT_PLAINTEXT, type NoiseTransport } from "./transport.ts";
export {
  type HandshakePattern,
  type HashName,
  type KemName,
  parseProtocolName,
  type ProtocolSpec,
  type Token,
} from "./patterns.ts";
export {
  findSessionPattern,
  hybridOf,
  SERVER_SIGNATURE_DOMAIN,
  serverSignatureMessage,
  SESSION_PATTERN_NAMES,
  SESSION_PATTERN_ROWS,
  type SessionPattern,
  sessionPattern,
} from "./session_patterns.ts";
export { CipherState } from "./cipher_state.ts";
export { answerRekey, EpochTransport, REKEY_PROTOCOL, RekeyInitiator } from "./rekey.ts";
export { hkdf, SymmetricState } from "./symmetric_state.ts";
export {
  type HandshakePayload,
  HandshakeState,
  type HandshakeStateInit,
} from "./handshake_state.ts";
export {
  formatVectorResult,
  formatVectorSummary,
  runVector,
  runVectorFile,
  type VectorResult,
  type VectorStatus,
  type VectorSummary,
} from "./vectors.ts";
export {
  describeNoiseKey,
  describeNoiseKeyForAck,
  type NoiseKey,
  type NoiseKeyring,
  StaticKeyring,
} from "./keyring.ts";
