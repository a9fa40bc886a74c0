/**
 * The MLS cipher suite CommuCat clients use: `MLS_256_XWING_AES256GCM_SHA512_Ed25519` (id 83):
 * the X-Wing hybrid KEM (X25519 + ML-KEM-768) for HPKE, so a recorded conversation stays
 * confidential against a future quantum computer; AES-256-GCM, SHA-512; Ed25519 signatures, so the
 * device key itself signs (docs/PROTOCOL.md "End-to-end encryption").
 *
 * @module
 */
import { type CiphersuiteImpl, type CiphersuiteName, getCiphersuiteImpl } from "ts-mls";
import { getCiphersuiteFromName } from "ts-mls";
// ts-mls loads X-Wing with a dynamic import of this optional peer: importing it here puts it in
// the module graph (and the browser bundle) so that import resolves.
import "@hpke/hybridkem-x-wing";

/** The suite's RFC 9420 / IANA name. */
export const E2E_SUITE: CiphersuiteName = "MLS_256_XWING_AES256GCM_SHA512_Ed25519";
/** Its IANA code point. */
export const E2E_SUITE_ID = 83;

let loaded: Promise<CiphersuiteImpl> | null = null;

/** The suite's implementation (loaded once per process / worker). */
export function e2eSuite(): Promise<CiphersuiteImpl> {
  loaded ??= getCiphersuiteImpl(getCiphersuiteFromName(E2E_SUITE));
  return loaded;
}
