/**
 * What the OpenAPI document says about each operation, keyed by
 * `"METHOD path"` exactly as the API's route table (src/api/app.ts) serves
 * it. The document is built from that table: a served operation missing
 * here, or an entry here that is not served, fails the build of the
 * document (and tests/openapi_test.ts).
 *
 * @module
 */
import type { z } from "zod";
import { revokeBody } from "./devices.ts";
import { assistBody } from "./p2p.ts";
import { pqKeysBody } from "./pq_keys.ts";
import { E2E_OPERATIONS } from "./openapi_e2e.ts";
import { sendBody } from "./friend_requests.ts";
import * as s from "./openapi_schemas.ts";
import { claimBody, issueBody } from "./pairing.ts";

/** Who may call an operation. */
export type Auth = "session" | "admin" | "none";

/** The documentation of one operation. */
export interface OperationDoc {
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: Auth;
  /** A JSON request body: the zod schema the handler validates with. */
  body?: { schema: z.ZodType; required: boolean };
  /** A raw (non-JSON) request body: its media types. */
  rawBody?: string[];
  /** The success response. */
  ok: { status: number; description: string; schema?: z.ZodType; media?: string[] };
  /**
   * Errors this operation answers besides those every one may (400 invalid
   * input, 429, 500, 503) and those implied by `auth` (401, 403) and a body
   * (413): status → when.
   */
  errors?: Record<number, string>;
  /** Descriptions of the path parameters. */
  params?: Record<string, string>;
}

const USER_ID = "a user id, or a handle of this domain (percent-decoded)";

const pairIssue: OperationDoc = {
  operationId: "issuePairingCode",
  summary: "Issue a pairing code for a new device of the caller's user",
  tag: "pairing",
  auth: "session",
  body: { schema: issueBody, required: false },
  ok: { status: 200, description: "the code", schema: s.pairingIssuedSchema },
};

const pairClaim: OperationDoc = {
  operationId: "claimPairingCode",
  summary: "Redeem a pairing code: a new device gets keys, a certificate and the user",
  tag: "pairing",
  auth: "none",
  body: { schema: claimBody, required: true },
  ok: { status: 200, description: "the new device", schema: s.pairingClaimedSchema },
  errors: {
    404: "pairing code not found",
    409: "device id collision, retry",
    429: "also the stricter pairing-claim limit",
  },
};

/** GET and POST /api/p2p/assist (POST takes the optional body). */
function p2pAssistDoc(post: boolean): OperationDoc {
  return {
    operationId: post ? "p2pAssistWithOptions" : "p2pAssist",
    summary: "Multipath advice: bound transports, measured paths, FEC profile and plan",
    description: "Per-path figures are the server's own echo-probe measurements on the caller's " +
      "live paths (null when none yet); nothing is estimated. Limited per device.",
    tag: "p2p",
    auth: "session",
    ...(post ? { body: { schema: assistBody, required: false } } : {}),
    ok: { status: 200, description: "the advice", schema: s.assistSchema },
    errors: { 404: "p2p assist is not enabled on this server", 429: "also the per-device limit" },
  };
}

/** Every operation of the REST API. */
export const OPERATIONS: Record<string, OperationDoc> = {
  "GET /api/server-info": {
    operationId: "getServerInfo",
    summary: "What clients bootstrap from: domain, Noise keys, device CA, limits",
    tag: "server",
    auth: "none",
    ok: { status: 200, description: "server information", schema: s.serverInfoSchema },
  },
  "GET /api/security-stats": {
    operationId: "getSecurityStats",
    summary: "Security counters (operators)",
    tag: "server",
    auth: "admin",
    ok: { status: 200, description: "counters", schema: s.securityStatsSchema },
  },
  "POST /api/pair": pairIssue,
  "POST /api/pairing": {
    ...pairIssue,
    operationId: "issuePairingCodeAlias",
    description: "Alias of POST /api/pair.",
  },
  "POST /api/pair/claim": pairClaim,
  "POST /api/pairing/claim": {
    ...pairClaim,
    operationId: "claimPairingCodeAlias",
    description: "Alias of POST /api/pair/claim.",
  },
  "GET /api/friends": {
    operationId: "getFriends",
    summary: "The caller's friends list with each mutual friend's devices",
    tag: "friends",
    auth: "session",
    ok: { status: 200, description: "the list", schema: s.friendsSchema },
  },
  "PUT /api/friends": {
    operationId: "putFriends",
    summary: "Replace the caller's friends list (one-sided: friendship needs both lists)",
    tag: "friends",
    auth: "session",
    body: { schema: s.friendsBody, required: true },
    ok: { status: 200, description: "the stored list", schema: s.friendsSchema },
  },
  "GET /api/friends/requests": {
    operationId: "listFriendRequests",
    summary: "Pending incoming and all outgoing friend requests",
    tag: "friends",
    auth: "session",
    ok: { status: 200, description: "the requests", schema: s.friendRequestsSchema },
  },
  "POST /api/friends/requests/:id": {
    operationId: "sendFriendRequest",
    summary: "Send a friend request (to handle@<other domain>: 202 " +
      '`{request, status: "queued"}`, delivered through federation)',
    tag: "friends",
    auth: "session",
    body: { schema: sendBody, required: false },
    ok: { status: 201, description: "the request", schema: s.friendRequestSentSchema },
    errors: {
      400: "unknown domain: <domain> (no active federation peer)",
      404: "user not found",
      409: "friend request already exists",
      429: "too many pending friend requests (64)",
      501: "a handle of another domain while federation is not available",
    },
    params: { id: `${USER_ID}, handle@<this domain>, or handle@<a peer domain>` },
  },
  "POST /api/friends/requests/:id/accept": {
    operationId: "acceptFriendRequest",
    summary: "Accept a pending request: each user goes into the other's list",
    tag: "friends",
    auth: "session",
    ok: { status: 200, description: "the request", schema: s.friendRequestAnsweredSchema },
    errors: { 404: "user or friend request not found", 409: "too many friends" },
    params: { id: `the requester: ${USER_ID}, or handle@<a peer domain>` },
  },
  "POST /api/friends/requests/:id/reject": {
    operationId: "rejectFriendRequest",
    summary: "Reject a pending request",
    tag: "friends",
    auth: "session",
    ok: { status: 200, description: "the request", schema: s.friendRequestAnsweredSchema },
    errors: { 404: "user or friend request not found" },
    params: { id: `the requester: ${USER_ID}` },
  },
  "GET /api/friends/:id/devices": {
    operationId: "getFriendDevices",
    summary: "The devices of a mutual friend (each in the other's list)",
    tag: "friends",
    auth: "session",
    ok: { status: 200, description: "the devices", schema: s.friendDevicesSchema },
    errors: { 404: "user not found, or not a mutual friend" },
    params: { id: USER_ID },
  },
  "DELETE /api/friends/:id": {
    operationId: "deleteFriend",
    summary: "Remove a user from the caller's friends list (only the caller's)",
    tag: "friends",
    auth: "session",
    ok: { status: 204, description: "removed" },
    errors: { 404: "user is not in your friends list" },
    params: { id: USER_ID },
  },
  "POST /api/users/me/avatar": {
    operationId: "uploadAvatar",
    summary: "Upload the caller's avatar (the raw image is the body, at most 5 MiB)",
    tag: "users",
    auth: "session",
    rawBody: ["image/jpeg", "image/png", "image/webp", "image/gif"],
    ok: { status: 200, description: "where it is served", schema: s.avatarSchema },
  },
  "GET /uploads/:filename": {
    operationId: "getUpload",
    summary: "An uploaded avatar (immutable)",
    tag: "users",
    auth: "none",
    ok: {
      status: 200,
      description: "the image",
      media: ["image/jpeg", "image/png", "image/webp", "image/gif"],
    },
    errors: { 403: "a name with a path in it", 404: "not found" },
    params: { filename: "[0-9a-f]{16}.(jpg|jpeg|png|webp|gif)" },
  },
  "GET /api/devices": {
    operationId: "listDevices",
    summary: "The devices of the caller's user",
    tag: "devices",
    auth: "session",
    ok: { status: 200, description: "the devices", schema: s.devicesSchema },
  },
  "POST /api/devices/revoke": {
    operationId: "revokeDevice",
    summary: "Revoke another device of the caller's user (its sessions and connections end)",
    tag: "devices",
    auth: "session",
    body: { schema: revokeBody, required: true },
    ok: { status: 200, description: "revoked", schema: s.revokedSchema },
    errors: {
      404: "device not found",
      409: "cannot revoke active session device",
    },
  },
  "PUT /api/devices/pq-keys": {
    operationId: "putDevicePqKeys",
    summary: "Publish the calling device's post-quantum public keys (signed by its device key)",
    tag: "devices",
    auth: "session",
    body: { schema: pqKeysBody, required: true },
    ok: { status: 200, description: "stored", schema: s.devicePqKeysSchema },
    errors: { 400: "malformed keys, or not the device key's signature over them" },
  },
  "GET /api/devices/:id/pq-keys": {
    operationId: "getDevicePqKeys",
    summary: "A device's post-quantum public keys (own user's devices and mutual friends' only)",
    tag: "devices",
    auth: "session",
    ok: { status: 200, description: "the keys", schema: s.devicePqKeysSchema },
    errors: { 404: "device not found, not visible to the caller, or no keys published" },
    params: { id: "device id" },
  },
  "POST /api/device/csr": {
    operationId: "rotateDeviceKey",
    summary: "Rotate the calling device's key (the current key signs the new one)",
    tag: "devices",
    auth: "session",
    body: { schema: s.csrBody, required: true },
    ok: { status: 200, description: "rotated, with a new certificate", schema: s.rotatedSchema },
    errors: {
      404: "device key rotation is disabled",
      409: "public key unchanged, rotation interval not elapsed, or key already used",
    },
  },
  "GET /api/p2p/assist": p2pAssistDoc(false),
  "POST /api/p2p/assist": p2pAssistDoc(true),
  "GET /openapi.json": {
    operationId: "getOpenApi",
    summary: "This document",
    tag: "server",
    auth: "none",
    ok: { status: 200, description: "OpenAPI 3.1", media: ["application/json"] },
  },
  ...E2E_OPERATIONS,
};
