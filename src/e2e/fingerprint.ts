/**
 * Key fingerprints and safety numbers, for people to compare out of band (docs/PROTOCOL.md
 * "End-to-end encryption"). A device fingerprint is the first 16 bytes of SHA-256 of its Ed25519
 * device key (which is also its MLS signature key), in 8 groups of 4 hex digits. A safety number
 * covers two users and all their devices: 12 groups of 5 digits, the same on both sides; it changes
 * when either user adds, loses or re-keys a device.
 *
 * @module
 */
import { hex, sha256, utf8 } from "./bytes.ts";

/** `ab12 cd34 …` (8 groups) for an Ed25519 device key. */
export async function deviceFingerprint(publicKey: Uint8Array): Promise<string> {
  const digest = hex((await sha256(publicKey)).subarray(0, 16));
  return digest.match(/.{4}/g)!.join(" ");
}

/** One side of a conversation: a user and the device keys it has. */
export interface SafetyParty {
  userId: string;
  deviceKeys: Uint8Array[];
}

async function half(party: SafetyParty): Promise<string> {
  const keys = party.deviceKeys.map(hex).sort();
  const digest = await sha256(
    utf8(`commucat-safety-number-v1\0${party.userId}\0${keys.join(",")}`),
  );
  const groups: string[] = [];
  for (let i = 0; i < 6; i++) {
    // 5 bytes → a 40-bit number → 5 decimal digits (mod 100000, as Signal's safety numbers do).
    let value = 0;
    for (let j = 0; j < 5; j++) value = value * 256 + digest[i * 5 + j];
    groups.push(String(value % 100000).padStart(5, "0"));
  }
  return groups.join(" ");
}

/** The safety number of `a` and `b` (order does not matter): 12 groups of 5 digits. */
export async function safetyNumber(a: SafetyParty, b: SafetyParty): Promise<string> {
  const [first, second] = a.userId <= b.userId ? [a, b] : [b, a];
  return `${await half(first)} ${await half(second)}`;
}
