/**
 * The bootstrap messages both ends build (upstream §3, PROTOCOL.md §3–§4):
 * the client's Hello and Auth, the server's established Ack, the user
 * snapshot they carry and the Hello capabilities.
 * Client SDK and server session share these so neither imports the other.
 *
 * @module
 */
import { controlFrame, type Frame } from "./frame.ts";
import { FrameType } from "./frame_type.ts";

const encoder = new TextEncoder();

/** Hello capability: the client accepts cumulative Acks `{"ack": n, "upto": true}` (PROTOCOL.md §4). */
export const ACK_UPTO_CAPABILITY = "ack-upto";

/**
 * A handshake pattern name as a Hello carries it (`XK`, `IK`). The names and
 * their Noise protocols are the session pattern table of the Noise layer
 * (`crypto/noise/session_patterns.ts`).
 */
export type NoisePatternName = string;

/** The prologue both ends mix in unless configured otherwise. */
export const DEFAULT_PROLOGUE = "commucat";

/** The user object clients see in Auth and Ack (upstream §3.3). */
export interface UserSnapshot {
  avatar_url: string | null;
  display_name: string | null;
  handle: string;
  id: string;
  user_id: string;
}

/** The fields of a user record a snapshot is made from. */
export interface SnapshotSource {
  userId: string;
  handle: string;
  displayName: string | null;
  avatarUrl: string | null;
}

/** The user object clients see (keys sorted, `id` repeated as `user_id`). */
export function userSnapshot(user: SnapshotSource): UserSnapshot {
  return {
    avatar_url: user.avatarUrl,
    display_name: user.displayName,
    handle: user.handle,
    id: user.userId,
    user_id: user.userId,
  };
}

/** What a client puts in its Hello; byte fields are lower-case hex. */
export interface HelloFields {
  pattern: NoisePatternName;
  supportedVersions: number[];
  deviceId: string;
  /** Noise message 1. */
  handshake: string;
  clientStatic: string;
  devicePublic: string;
  zkp: { commitment: string; response: string };
  capabilities?: string[];
  user?: Record<string, unknown>;
  /**
   * The device certificate as canonical JSON text: serials are u64 JSON
   * integers, so the text is spliced in unchanged rather than re-serialised.
   */
  certificateJson?: string;
}

/** The client's first frame. */
export function helloFrame(fields: HelloFields, sequence: number): Frame {
  const hello: Record<string, unknown> = {
    pattern: fields.pattern,
    supported_versions: fields.supportedVersions,
    device_id: fields.deviceId,
    handshake: fields.handshake,
    client_static: fields.clientStatic,
    device_public: fields.devicePublic,
    zkp: fields.zkp,
  };
  if (fields.capabilities) hello.capabilities = fields.capabilities;
  if (fields.user) hello.user = fields.user;
  let text = JSON.stringify(hello);
  if (fields.certificateJson !== undefined) {
    text = text.slice(0, -1) + `,"certificate":${fields.certificateJson}}`;
  }
  return { type: FrameType.Hello, channel: 0, sequence, payload: encoder.encode(text) };
}

/** An Auth frame carrying a Noise handshake message (hex). */
export function authFrame(channel: number, sequence: number, handshake: string): Frame {
  return controlFrame(FrameType.Auth, channel, sequence, { handshake });
}

/** A Noise static key the server announces in its Ack. */
export interface AnnouncedNoiseKey {
  version: number;
  public: string;
  valid_after: string;
  rotates_at: string;
  expires_at: string;
  /** Hex SHA-256 of the version's ML-DSA-65 public key, when it has one. */
  pq_signing_sha256?: string;
}

/** The session's part of the server's established Ack. */
export interface EstablishedAckSession {
  protocolVersion: number;
  sessionId: string;
  user: SnapshotSource;
  pairingRequired: boolean;
  /** The device certificate: its canonical JSON text and summary (serial is a u64). */
  certificate: { json: string; serial: bigint; issuedAt: number; expiresAt: number };
}

/** The server keys' part of the established Ack: the same for every session on one key. */
export interface EstablishedAckKeys {
  /** Hex of the device CA public key. */
  deviceCaPublic: string;
  /** The Noise key the client used: hex public key, version and its times. */
  noiseKey: { publicKey: string; version: number; rotatesAt: Date; expiresAt: Date };
  /** Every active Noise key, as the server describes them. */
  noiseKeys: readonly AnnouncedNoiseKey[];
  keepaliveIntervalSeconds: number;
}

/** What the server's established Ack (first transport message) says. */
export interface EstablishedAckFields extends EstablishedAckSession, EstablishedAckKeys {}

/**
 * The server keys' members of the established Ack as JSON text (no braces,
 * no leading or trailing comma), for {@link establishedAckFrameWithKeys}.
 */
export function establishedAckKeysText(keys: EstablishedAckKeys): string {
  return [
    `"device_ca_public":${JSON.stringify(keys.deviceCaPublic)}`,
    `"noise_public":${JSON.stringify(keys.noiseKey.publicKey)}`,
    `"noise_key_version":${keys.noiseKey.version}`,
    `"noise_rotates_at":"${keys.noiseKey.rotatesAt.toISOString()}"`,
    `"noise_expires_at":"${keys.noiseKey.expiresAt.toISOString()}"`,
    `"noise_keys":${JSON.stringify(keys.noiseKeys)}`,
    `"keepalive_interval":${keys.keepaliveIntervalSeconds}`,
  ].join(",");
}

/**
 * The server's established Ack (sequence 0: the caller numbers it). Built as
 * text so the certificate's u64 serial survives unchanged.
 */
export function establishedAckFrame(fields: EstablishedAckFields): Frame {
  return establishedAckFrameWithKeys(fields, establishedAckKeysText(fields));
}

/**
 * {@link establishedAckFrame} with the server keys' part already made by
 * {@link establishedAckKeysText}: a server makes it once per key and keyring
 * state, not per handshake (two hex keys, two ISO dates and the JSON of
 * every active key).
 */
export function establishedAckFrameWithKeys(
  session: EstablishedAckSession,
  keysText: string,
): Frame {
  const cert = session.certificate;
  const text = [
    `{"handshake":"ok"`,
    `"protocol_version":${session.protocolVersion}`,
    `"session":${JSON.stringify(session.sessionId)}`,
    `"user_id":${JSON.stringify(session.user.userId)}`,
    `"user":${JSON.stringify(userSnapshot(session.user))}`,
    `"pairing_required":${session.pairingRequired}`,
    keysText,
    `"certificate":{"serial":${cert.serial},"issued_at":${cert.issuedAt},"expires_at":${cert.expiresAt}}`,
    `"device_certificate":${cert.json}}`,
  ].join(",");
  return { type: FrameType.Ack, channel: 0, sequence: 0, payload: encoder.encode(text) };
}

/**
 * The established Ack with `"capabilities": [...]` appended: the Hello
 * capabilities this session uses (e.g. `pad1`, PROTOCOL.md §2 "Padding").
 * Spliced into the text so the rest (the certificate's u64 serial) stays
 * byte for byte.
 */
export function withAckCapabilities(ack: Frame, capabilities: readonly string[]): Frame {
  // Spliced as bytes: the Ack is kilobytes (the announced keys), the addition a few bytes.
  const body = ack.payload;
  const close = body.lastIndexOf(0x7d); // "}"
  if (close < 0) throw new TypeError("withAckCapabilities: the Ack is not a JSON object");
  const tail = encoder.encode(`,"capabilities":${JSON.stringify(capabilities)}}`);
  const payload = new Uint8Array(close + tail.length);
  payload.set(body.subarray(0, close));
  payload.set(tail, close);
  return { ...ack, payload };
}
