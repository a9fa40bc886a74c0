/**
 * The REST API (upstream §7): server info, pairing, friends and friend
 * requests, avatars, devices, key rotation, security stats. One Hono app
 * built by {@link createApi} from {@link ApiDeps}.
 *
 * @module
 */
export { createApi } from "./app.ts";
export { authenticate, bearerToken, type Caller } from "./auth.ts";
export type {
  ApiConfig,
  ApiDeps,
  ApiFederation,
  ApiFederationResult,
  ApiLedger,
  ApiP2p,
} from "./deps.ts";
export { type AssistBody, assistBody } from "./p2p.ts";
export { ApiError, MAX_BODY_BYTES, problem } from "./http.ts";
export { MAX_PENDING_FRIEND_REQUESTS } from "./friend_requests.ts";
export { avatarHash } from "./uploads.ts";
export { MAX_FRIENDS, parseFriendsPayload } from "./friends.ts";
export { buildOpenApi, openApiPath, type ServedRoute, SERVER_ENDPOINTS } from "./openapi.ts";
export { type OperationDoc, OPERATIONS } from "./openapi_operations.ts";
export { csrBody, friendsBody, healthSchema, readySchema } from "./openapi_schemas.ts";
export {
  generatePairCode,
  normalizePairCode,
  PAIR_CODE_ALPHABET,
  PAIR_CODE_BITS,
  PAIRING_TTL_MAX,
  PAIRING_TTL_MIN,
  pairingTtl,
  purgePairings,
} from "./pairing.ts";
export { serverInfo } from "./server_info.ts";
export { MAX_AVATAR_BYTES } from "./uploads.ts";
