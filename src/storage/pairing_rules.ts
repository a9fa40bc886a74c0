/**
 * When a pairing code can still be claimed: one rule for every backend.
 *
 * @module
 */
import { PAIRING_MAX_ATTEMPTS, type PairingClaimFailure, type PairingRecord } from "./store.ts";

/** Redeemed codes are kept this long (then purged). */
export const PAIRING_REDEEMED_RETENTION_MS = 86_400_000;

/** Why `pairing` cannot be claimed at `now`, or null when it can. */
export function pairingUnusable(
  pairing: PairingRecord,
  now: Date,
): Exclude<PairingClaimFailure, "not_found"> | null {
  if (pairing.redeemedAt !== null) return "redeemed";
  if (pairing.attempts >= PAIRING_MAX_ATTEMPTS) return "attempts_exhausted";
  if (pairing.expiresAt.getTime() <= now.getTime()) return "expired";
  return null;
}
