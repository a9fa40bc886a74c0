/**
 * The OpenAPI entries of the MLS key directory (`/api/e2e/*`, see
 * ./key_packages.ts and docs/PROTOCOL.md "End-to-end encryption").
 *
 * @module
 */
import { z } from "zod";
import { keyPackagesBody, MAX_ONE_TIME_KEY_PACKAGES } from "./key_packages.ts";
import type { OperationDoc } from "./openapi_operations.ts";
import { MAX_WELCOME_BYTES, welcomeBody } from "./welcome.ts";

const hex32 = z.string().regex(/^[0-9a-f]{64}$/).describe("32 bytes, lowercase hex");

/** POST /api/e2e/key-packages */
export const keyPackagesStoredSchema = z.object({
  stored: z.int().describe("packages new to the server (re-sent ones are not counted)"),
  available: z.int().describe(
    `unexpired one-time packages the device holds (max ${MAX_ONE_TIME_KEY_PACKAGES})`,
  ),
  last_resort: z.boolean().describe("the device holds an unexpired last-resort package"),
});

/** GET /api/e2e/key-packages/{device_id} */
export const keyPackageTakenSchema = z.object({
  device_id: z.string(),
  user_id: z.string(),
  key_package: z.string().describe("base64, exactly as the device uploaded it"),
  signature: z.string().describe("base64 Ed25519 signature of the device key over it"),
  last_resort: z.boolean().describe("true: not consumed, others may get the same package"),
  cipher_suite: z.int(),
  device_public: hex32.describe("the device key that signed it"),
});

/** GET /api/e2e/devices/{user_id} */
export const e2eDevicesSchema = z.object({
  user_id: z.string(),
  handle: z.string(),
  devices: z.array(z.object({
    device_id: z.string().describe("also the identity of its MLS basic credential"),
    public_key: hex32.describe("Ed25519 device key"),
    fingerprint: hex32.describe("SHA-256 of public_key (safety numbers)"),
    created_at: z.string(),
    key_packages: z.object({ one_time: z.int(), last_resort: z.boolean() }),
  })),
});

/** The `/api/e2e/*` operations. */
export const E2E_OPERATIONS: Record<string, OperationDoc> = {
  "POST /api/e2e/key-packages": {
    operationId: "uploadKeyPackages",
    summary:
      "Publish MLS KeyPackages of the calling device (bound to it, signed by its device key)",
    tag: "e2e",
    auth: "session",
    body: { schema: keyPackagesBody, required: true },
    ok: { status: 201, description: "stored", schema: keyPackagesStoredSchema },
    errors: {
      400: "malformed or invalid KeyPackage (names the entry), credential of another device, " +
        "or not this device key's signature",
      409: `the device would hold more than ${MAX_ONE_TIME_KEY_PACKAGES} one-time packages`,
      413: "one key package over 32 KiB",
    },
  },
  "GET /api/e2e/key-packages/:id": {
    operationId: "takeKeyPackage",
    summary: "Take one KeyPackage of a device (one-time ones are consumed)",
    tag: "e2e",
    auth: "session",
    ok: { status: 200, description: "the package", schema: keyPackageTakenSchema },
    errors: {
      404: "device unknown, inactive, not visible to the caller, or no package left",
      429: "too many takes by this user (Retry-After)",
      501: "a device of another domain, and federation is not enabled",
      502: "the device's home server did not answer, refused, or answered invalidly",
    },
    params: {
      id: "device id; `device@other.domain` asks that domain's server (federated friends)",
    },
  },
  "GET /api/e2e/devices/:id": {
    operationId: "listE2eDevices",
    summary:
      "A user's devices with key fingerprints and KeyPackage stock (friends, group co-members)",
    tag: "e2e",
    auth: "session",
    ok: { status: 200, description: "the devices", schema: e2eDevicesSchema },
    errors: {
      404: "user not found, or not visible to the caller",
      501: "a user of another domain, and federation is not enabled",
      502: "the user's home server did not answer, refused, or answered invalidly",
    },
    params: {
      id:
        "a user id, a handle of this domain, or `handle@other.domain` (asks that domain's server)",
    },
  },
  "POST /api/e2e/welcome": {
    operationId: "sendWelcome",
    summary: "Hand an MLS Welcome to one device, as a Msg frame on the group's channel",
    tag: "e2e",
    auth: "session",
    body: { schema: welcomeBody, required: true },
    ok: {
      status: 202,
      description: "delivered live or queued durably",
      schema: z.object({ device_id: z.string(), channel: z.int() }),
    },
    errors: {
      404: "device unknown, inactive or not reachable by the caller",
      501: "a device of another domain, and federation is not enabled",
      413: `welcome over ${MAX_WELCOME_BYTES} bytes`,
      429: "the device's offline queue (or the caller's share) is full",
    },
  },
};
