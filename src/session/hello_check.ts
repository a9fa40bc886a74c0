/**
 * The handshake's control payloads checked by hand first: a Hello that is
 * plainly valid (the form every client sends) is accepted by direct type and
 * bound checks, which cost a fraction of the zod schema's pass (~20 µs per
 * Hello on this machine, one of the larger pieces of the handshake outside
 * the primitives). Anything else, including every invalid Hello, goes to the
 * schema (`parseControl`), so what is accepted and the errors reported are
 * the schema's: this check accepts a subset of what it accepts, and returns
 * the same value (the parsed JSON itself, which the schema would copy).
 *
 * @module
 */
import {
  deviceIdProblem,
  FrameType,
  HELLO_LIMITS,
  type HelloPayload,
  MAX_DEVICE_ID_LENGTH,
  parseControl,
} from "../proto/mod.ts";
import { HandshakeError } from "./errors.ts";

/** As the schema's `pattern` (a shape; which names exist is the session's check). */
const PATTERN = /^[A-Z][A-Za-z0-9+]{0,31}$/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const HEX32 = /^[0-9a-fA-F]{64}$/;

/** A JSON object (not null, not an array), as the schema's objects want. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isU16(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffff;
}

/** Absent, null, or a string of at most `max` characters (the schema's `boundedHint`). */
function isHint(value: unknown, max: number): boolean {
  return value === undefined || value === null ||
    (typeof value === "string" && value.length <= max);
}

function isHex32(value: unknown): boolean {
  return typeof value === "string" && value.length === 64 && HEX32.test(value);
}

function isVersions(value: unknown): boolean {
  if (value === undefined) return true;
  if (!Array.isArray(value) || value.length < 1 || value.length > HELLO_LIMITS.versions) {
    return false;
  }
  for (const v of value) if (!isU16(v)) return false;
  return true;
}

function isUserHints(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  return isObject(value) &&
    isHint(value.id, HELLO_LIMITS.userId) &&
    isHint(value.user_id, HELLO_LIMITS.userId) &&
    isHint(value.handle, HELLO_LIMITS.handle) &&
    isHint(value.display_name, HELLO_LIMITS.displayName) &&
    isHint(value.avatar_url, HELLO_LIMITS.avatarUrl);
}

/**
 * The Hello when `control` is plainly valid, else null (then only the schema
 * decides). Never accepts what the schema refuses.
 */
export function plainHello(control: unknown): HelloPayload | null {
  if (!isObject(control)) return null;
  const c = control;
  const pattern = c.pattern;
  if (typeof pattern !== "string" || pattern.length > 32 || !PATTERN.test(pattern)) return null;
  if (!isVersions(c.supported_versions)) return null;
  if (c.protocol_version !== undefined && !isU16(c.protocol_version)) return null;
  const deviceId = c.device_id;
  if (
    typeof deviceId !== "string" || deviceId.length > MAX_DEVICE_ID_LENGTH ||
    deviceIdProblem(deviceId) !== null
  ) {
    return null;
  }
  const handshake = c.handshake;
  if (
    typeof handshake !== "string" || handshake.length > HELLO_LIMITS.handshakeBytes * 2 ||
    !HEX.test(handshake)
  ) {
    return null;
  }
  if (!isHex32(c.client_static) || !isHex32(c.device_public)) return null;
  const zkp = c.zkp;
  if (!isObject(zkp) || !isHex32(zkp.commitment) || !isHex32(zkp.response)) return null;
  if (!isUserHints(c.user)) return null;
  const certificate = c.certificate;
  if (certificate !== undefined && certificate !== null && !isObject(certificate)) return null;
  const capabilities = c.capabilities;
  if (
    capabilities !== undefined && capabilities !== null &&
    (!Array.isArray(capabilities) || capabilities.length > HELLO_LIMITS.capabilities)
  ) {
    return null;
  }
  if (!isHint(c.device_ca_public, 128)) return null;
  return c as HelloPayload;
}

/** The Hello of a decoded Hello frame; throws `invalid_hello` with the schema's errors. */
export function readHello(control: unknown): HelloPayload {
  const plain = plainHello(control);
  if (plain !== null) return plain;
  const parsed = parseControl(FrameType.Hello, control);
  if (!parsed.ok) throw new HandshakeError("invalid_hello", `invalid hello: ${parsed.error}`);
  return parsed.value as HelloPayload;
}

/** Noise message 3 of a decoded Auth frame (hex); throws `invalid_auth` with the schema's errors. */
export function readAuthHandshake(control: unknown): string {
  if (isObject(control)) {
    const handshake = control.handshake;
    if (typeof handshake === "string" && HEX.test(handshake)) return handshake;
  }
  const parsed = parseControl(FrameType.Auth, control);
  if (!parsed.ok) throw new HandshakeError("invalid_auth", `invalid auth: ${parsed.error}`);
  return (parsed.value as { handshake: string }).handshake;
}
