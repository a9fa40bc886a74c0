/**
 * The payload of an end-to-end encrypted `Msg`: a 5-byte marker (`00 'E' '2' 'E'` and format
 * version 1) followed by one encoded MLSMessage (PrivateMessage for application data and commits,
 * Welcome for new members). A payload without the marker is plaintext-in-tunnel (bots, bridges),
 * which clients show as such. Application data inside MLS is padded to a size bucket so the server
 * sees only coarse sizes.
 *
 * @module
 */
import { E2EError } from "./errors.ts";

/** The marker every E2E payload starts with. */
export const E2E_MARKER: Uint8Array = new Uint8Array([0x00, 0x45, 0x32, 0x45, 0x01]);

/** True when `payload` carries an MLS message (else it is plaintext mode). */
export function isE2EPayload(payload: Uint8Array): boolean {
  if (payload.length < E2E_MARKER.length) return false;
  for (let i = 0; i < E2E_MARKER.length; i++) if (payload[i] !== E2E_MARKER[i]) return false;
  return true;
}

/** Wraps an encoded MLSMessage. */
export function wrapMls(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(E2E_MARKER.length + message.length);
  out.set(E2E_MARKER);
  out.set(message, E2E_MARKER.length);
  return out;
}

/** The MLSMessage bytes of an E2E payload. */
export function unwrapMls(payload: Uint8Array): Uint8Array {
  if (!isE2EPayload(payload)) throw new E2EError("bad_message", "not an end-to-end payload");
  return payload.subarray(E2E_MARKER.length);
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
