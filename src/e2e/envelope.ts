/**
 * The payload of an end-to-end encrypted `Msg` is one encoded MLSMessage (RFC 9420 §6: version
 * `mls10` = 0x0001, then its wire format 1–5): a PrivateMessage for application data and commits, a
 * Welcome for new members. Anything else is plaintext-in-tunnel (bots, bridges), which clients show
 * as such; no text or JSON payload starts with a 0x00 byte. Application data inside MLS is padded
 * to a size bucket so the server sees only coarse sizes.
 *
 * @module
 */
import { E2EError } from "./errors.ts";

/** True when `payload` looks like an MLSMessage (else it is plaintext mode). */
export function isE2EPayload(payload: Uint8Array): boolean {
  return payload.length >= 4 && payload[0] === 0x00 && payload[1] === 0x01 &&
    payload[2] === 0x00 && payload[3] >= 1 && payload[3] <= 5;
}

/** The Msg payload of an encoded MLSMessage (the message itself). */
export function wrapMls(message: Uint8Array): Uint8Array {
  return message;
}

/** The MLSMessage bytes of an E2E payload. */
export function unwrapMls(payload: Uint8Array): Uint8Array {
  if (!isE2EPayload(payload)) throw new E2EError("bad_message", "not an end-to-end payload");
  return payload;
}

/** Padded sizes: powers of two from 128 bytes, then steps of 16 KiB. */
export function paddedLength(length: number): number {
  const needed = length + 5;
  if (needed <= 16384) {
    let size = 128;
    while (size < needed) size *= 2;
    return size;
  }
  return Math.ceil(needed / 16384) * 16384;
}

/** Application data → padded plaintext: version 1, u32 big-endian length, data, zeros. */
export function padApplication(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(paddedLength(data.length));
  out[0] = 1;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** The data inside a padded plaintext; `bad_message` when malformed. */
export function unpadApplication(padded: Uint8Array): Uint8Array {
  if (padded.length < 5 || padded[0] !== 1) {
    throw new E2EError("bad_message", "unknown application data format");
  }
  const length = new DataView(padded.buffer, padded.byteOffset).getUint32(1);
  if (5 + length > padded.length) throw new E2EError("bad_message", "application data truncated");
  return padded.slice(5, 5 + length);
}
