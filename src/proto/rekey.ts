/**
 * The wire form of the in-session rekey (PROTOCOL.md §3, "In-session
 * rekey"): `KeyUpdate` frames on channel 0 whose JSON body names the step,
 * `{"rekey": "init" | "reply", "noise": "<base64 Noise message>"}` or
 * `{"rekey": "done"}`. They are session-level: never routed, never Acked.
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from "./base64.ts";

/** Hello capability of a client that answers server-initiated rekeys. */
export const REKEY_CAPABILITY = "rekey";

/** The channel rekey messages travel on. */
export const REKEY_CHANNEL = 0;

/** One step of the rekey exchange. */
export type RekeyStep = "init" | "reply" | "done";

/** A decoded rekey message. */
export interface RekeyMessage {
  step: RekeyStep;
  /** The Noise handshake message (`init`, `reply`); empty for `done`. */
  noise: Uint8Array;
}

/** The JSON body of a rekey message. */
export function rekeyBody(step: RekeyStep, noise?: Uint8Array): Record<string, string> {
  return noise === undefined ? { rekey: step } : { rekey: step, noise: encodeBase64(noise) };
}

/** True when a KeyUpdate body on `channel` is a rekey message (not a device key notice). */
export function isRekeyBody(channel: number, body: unknown): boolean {
  return channel === REKEY_CHANNEL && typeof body === "object" && body !== null &&
    "rekey" in body;
}

/** Parses a rekey body; throws an Error naming what is wrong. */
export function parseRekeyBody(body: unknown): RekeyMessage {
  const { rekey: step, noise } = (body ?? {}) as { rekey?: unknown; noise?: unknown };
  if (step === "done") return { step, noise: new Uint8Array(0) };
  if (step !== "init" && step !== "reply") {
    throw new Error(`rekey must be "init", "reply" or "done", got ${JSON.stringify(step)}`);
  }
  if (typeof noise !== "string" || noise.length === 0) {
    throw new Error(`rekey ${step} needs "noise": the base64 Noise message`);
  }
  try {
    return { step, noise: decodeBase64(noise) };
  } catch {
    throw new Error(`rekey ${step}: "noise" is not valid base64`);
  }
}
