/**
 * Pairing (upstream §5.4): a connected device issues a short code; a new
 * device claims it without credentials and receives fresh keys, a device
 * certificate and the user's identity, so its first handshake is that of
 * a known device of the same user.
 *
 * @module
 */
import { z } from "zod";
import { certificateToJson, deviceKeysFromSeed, issueCertificate, toHex } from "../crypto/mod.ts";
import { checkDeviceId, userSnapshot } from "../proto/mod.ts";
import { MAX_PENDING_PAIRINGS_PER_USER, StoreConflictError } from "../storage/mod.ts";
import { authenticate } from "./auth.ts";
import type { ApiDeps } from "./deps.ts";
import { ApiError, json, readJson, rfc3339, validate } from "./http.ts";

/** Symbols of a pairing code (no 0/O, 1/I/L). */
export const PAIR_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/** Bounds every pairing lifetime is clamped to, seconds. */
export const PAIRING_TTL_MIN = 60;
export const PAIRING_TTL_MAX = 3600;
const CODE_ATTEMPTS = 16;

/** Groups of {@link PAIR_CODE_GROUP} symbols in a code. */
export const PAIR_CODE_GROUPS = 3;
/** Symbols per group. */
export const PAIR_CODE_GROUP = 5;
/**
 * Entropy of a code: 15 symbols over 31 = 74.3 bits (upstream: 8 symbols, 39.6
 * bits). With 5 claims per code, the per-IP claim limit and codes living at
 * most an hour, guessing any live code stays out of reach.
 */
export const PAIR_CODE_BITS = PAIR_CODE_GROUPS * PAIR_CODE_GROUP *
  Math.log2(PAIR_CODE_ALPHABET.length);

/**
 * A random code `XXXXX-XXXXX-XXXXX` over {@link PAIR_CODE_ALPHABET}
 * (unbiased: rejection sampling).
 */
export function generatePairCode(): string {
  const n = PAIR_CODE_ALPHABET.length;
  const limit = 256 - (256 % n);
  const symbols: string[] = [];
  const total = PAIR_CODE_GROUPS * PAIR_CODE_GROUP;
  while (symbols.length < total) {
    for (const byte of crypto.getRandomValues(new Uint8Array(32))) {
      if (byte >= limit) continue;
      symbols.push(PAIR_CODE_ALPHABET[byte % n]);
      if (symbols.length === total) break;
    }
  }
  return groups(symbols.join(""));
}

function groups(symbols: string): string {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i += PAIR_CODE_GROUP) {
    out.push(symbols.slice(i, i + PAIR_CODE_GROUP));
  }
  return out.join("-");
}

/**
 * The stored spelling of a typed code: upper case; spaces and dashes
 * anywhere are ignored when the rest has the length of a code, so
 * `abcde fghjk mnpqr` works. Anything else is kept as typed (trimmed).
 */
export function normalizePairCode(typed: string): string {
  const code = typed.trim().toUpperCase();
  const bare = code.replace(/[\s-]+/g, "");
  return bare.length === PAIR_CODE_GROUPS * PAIR_CODE_GROUP ? groups(bare) : code;
}

/** Lifetime of a new code: requested (or configured) ttl, at most the configured one, clamped. */
export function pairingTtl(requested: number | undefined, configured: number): number {
  const ttl = Math.min(requested ?? configured, configured);
  return Math.min(Math.max(ttl, PAIRING_TTL_MIN), PAIRING_TTL_MAX);
}

/** Body of POST /api/pair (validated here, documented in /openapi.json). */
export const issueBody = z.object({ ttl: z.number().int().optional() }).optional();
/** Body of POST /api/pair/claim (validated here, documented in /openapi.json). */
export const claimBody = z.object({
  pair_code: z.string().optional(),
  device_name: z.string().max(128).nullish(),
});

/** POST /api/pair: the caller's device issues a code. */
export async function issuePairing(deps: ApiDeps, request: Request): Promise<Response> {
  const caller = await authenticate(deps, request);
  const body = validate(issueBody, await readJson(request));
  if (body?.ttl !== undefined && body.ttl <= 0) throw new ApiError(400, "ttl must be positive");
  const ttl = pairingTtl(body?.ttl, deps.config.pairingTtlSeconds);
  const issuedAt = deps.now();
  const expiresAt = issuedAt + ttl * 1000;
  for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
    const pairCode = generatePairCode();
    try {
      // Bounded per user: the oldest pending code makes room (docs/PROTOCOL.md "Pairing").
      const replaced = await deps.store.createPairing({
        pairCode,
        userId: caller.user.userId,
        issuerDeviceId: caller.device.deviceId,
        issuedAt: new Date(issuedAt),
        expiresAt: new Date(expiresAt),
      }, MAX_PENDING_PAIRINGS_PER_USER);
      if (replaced > 0) {
        deps.log.info("pairing code replaced the oldest pending", {
          user: caller.user.userId,
          replaced,
        });
      }
    } catch (error) {
      if (error instanceof StoreConflictError) continue;
      throw error;
    }
    return json({
      pair_code: pairCode,
      issued_at: rfc3339(issuedAt),
      expires_at: rfc3339(expiresAt),
      ttl,
      issuer_device_id: caller.device.deviceId,
      device_ca_public: toHex(deps.ca.publicKey),
    });
  }
  throw new ApiError(503, "could not allocate a pairing code, try again");
}

/** POST /api/pair/claim: a new device redeems a code (no credentials). */
export async function claimPairing(deps: ApiDeps, request: Request): Promise<Response> {
  const body = validate(claimBody, (await readJson(request)) ?? {});
  const typed = body.pair_code ?? "";
  if (typed.trim() === "") throw new ApiError(400, "pair_code is required");
  if (typed.length > 64) throw new ApiError(404, "pairing code not found");
  const code = normalizePairCode(typed);
  // A code dies with its issuer: revoking a (stolen) device must not leave it
  // able to mint new devices through codes it issued before.
  const pending = await deps.store.getPairing(code);
  if (pending !== null && !(await issuerActive(deps, pending.issuerDeviceId))) {
    throw new ApiError(400, "pairing code invalid or expired");
  }
  const now = deps.now();
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const keys = deviceKeysFromSeed(seed);
  // Server-made (64 hex digits), held to the same rules as a device's own choice.
  const deviceId = checkDeviceId(deps.newId(`device:${code}`));
  let result;
  try {
    result = await deps.store.claimPairing(
      code,
      new Date(now),
      { deviceId, publicKey: keys.publicKey, status: "active", createdAt: new Date(now) },
      {
        eventId: deps.newId(`pair:${deviceId}`),
        deviceId,
        publicKey: keys.publicKey,
        recordedAt: new Date(now),
      },
    );
  } catch (error) {
    if (error instanceof StoreConflictError) throw new ApiError(409, "device id collision, retry");
    throw error;
  }
  if (!result.ok) {
    if (result.reason === "not_found") throw new ApiError(404, "pairing code not found");
    throw new ApiError(400, "pairing code invalid or expired");
  }
  if (!(await issuerActive(deps, result.pairing.issuerDeviceId))) {
    // Revoked between the check above and the claim: the new device goes too.
    await deps.store.setDeviceStatus(deviceId, "revoked");
    throw new ApiError(400, "pairing code invalid or expired");
  }
  const user = await deps.store.getUser(result.pairing.userId);
  if (user === null) throw new ApiError(404, "user not found");
  const certificate = issueCertificate({
    caSeed: deps.ca.seed,
    userId: user.userId,
    deviceId,
    publicKey: keys.publicKey,
    now: Math.floor(now / 1000),
  });
  await deps.ledger?.record({
    action: "certificate",
    source: "pair-claim",
    device_id: deviceId,
    user_id: user.userId,
    issuer_device_id: result.pairing.issuerDeviceId,
    serial: certificate.serial.toString(),
  });
  deps.log.info("device paired", { device: deviceId, issuer: result.pairing.issuerDeviceId });
  const response: Record<string, unknown> = {
    device_id: deviceId,
    private_key: toHex(keys.privateKey),
    public_key: toHex(keys.publicKey),
    seed: toHex(seed),
    issuer_device_id: result.pairing.issuerDeviceId,
    user_id: user.userId,
    user: userSnapshot(user),
    device_ca_public: toHex(deps.ca.publicKey),
  };
  if (typeof body.device_name === "string" && body.device_name.trim() !== "") {
    response.device_name = body.device_name.trim();
  }
  return json(response, 200, { device_certificate: certificateToJson(certificate) });
}

async function issuerActive(deps: ApiDeps, deviceId: string): Promise<boolean> {
  return (await deps.store.getDevice(deviceId))?.status === "active";
}

/** Deletes dead pairing codes; the server calls it every minute. Returns how many went. */
export function purgePairings(deps: Pick<ApiDeps, "store" | "now">): Promise<number> {
  return deps.store.purgePairings(new Date(deps.now()));
}
