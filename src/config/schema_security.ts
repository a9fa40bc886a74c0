/**
 * The sections of protection and key hygiene: `[security]` (rate limits, secret rotation,
 * trusted proxies) and `[rotation.device]`.
 * Part of the configuration schema (schema.ts composes the sections).
 *
 * @module
 */
import { z } from "zod";
import { key, list, optional } from "./keys.ts";
import { boolean, intRange, nonNegativeInt, positiveInt } from "./kinds.ts";
import { trustedProxies } from "./tables.ts";

/** Type of an integer key with a default. */
type IntKey = ReturnType<typeof key<ReturnType<typeof positiveInt>["schema"]>>;

function rateLimit<P extends string>(
  scope: P,
  burst: number,
  window: number,
  penalty: number,
  what: string,
): Record<`${P}_burst` | `${P}_window_ms` | `${P}_penalty_ms`, IntKey> {
  const env = `COMMUCAT_RATE_${scope.toUpperCase()}`;
  return {
    [`${scope}_burst`]: key(positiveInt(), burst, {
      env: `${env}_BURST`,
      description: `Requests allowed per window, ${what}.`,
    }),
    [`${scope}_window_ms`]: key(positiveInt(), window, {
      env: `${env}_WINDOW_MS`,
      description: `Sliding window, ms (${scope}).`,
    }),
    [`${scope}_penalty_ms`]: key(nonNegativeInt(), penalty, {
      env: `${env}_PENALTY_MS`,
      description:
        `Block time after exceeding the burst, ms; 0 = no block, retry after the window (${scope}).`,
    }),
  } as Record<`${P}_burst` | `${P}_window_ms` | `${P}_penalty_ms`, IntKey>;
}

const rateLimits = z.strictObject({
  ...rateLimit("http", 60, 1_000, 10_000, "HTTP (everything but /connect)"),
  ...rateLimit("connect", 20, 1_000, 30_000, "/connect"),
  ...rateLimit("pairing", 5, 60_000, 120_000, "pairing claims"),
});

function rotation<P extends "noise" | "admin">(
  scope: P,
  interval: number,
  grace: number,
  max: number,
): Record<`${P}_interval_hours` | `${P}_grace_hours` | `${P}_max_versions`, IntKey> {
  const env = `COMMUCAT_ROTATE_${scope.toUpperCase()}`;
  const what = scope === "noise" ? "Noise static key" : "admin token";
  return {
    [`${scope}_interval_hours`]: key(positiveInt(), interval, {
      env: `${env}_INTERVAL_HOURS`,
      description: `Hours between ${what} rotations.`,
    }),
    [`${scope}_grace_hours`]: key(nonNegativeInt(), grace, {
      env: `${env}_GRACE_HOURS`,
      description: `Hours a rotated-out ${what} stays valid.`,
    }),
    [`${scope}_max_versions`]: key(positiveInt(), max, {
      env: `${env}_MAX_VERSIONS`,
      description: `Most ${what} versions kept.`,
    }),
  } as Record<`${P}_interval_hours` | `${P}_grace_hours` | `${P}_max_versions`, IntKey>;
}

const secretRotation = z.strictObject({
  ...rotation("noise", 168, 48, 3),
  admin_enabled: optional(boolean(), {
    example: true,
    env: "COMMUCAT_ROTATE_ADMIN_ENABLED",
    defaultText: "true iff `admin.token` is set",
    description: "Rotate admin tokens periodically.",
  }),
  ...rotation("admin", 168, 72, 2),
});

/** The `[security]` section. */
export const security = z.strictObject({
  rate_limit: rateLimits.prefault({}),
  rotation: secretRotation.prefault({}),
  trusted_proxies: list(
    trustedProxies,
    {
      type: "IP/CIDR list",
      expected: "a comma-separated string or an array of IPs / CIDRs",
      env: "string",
    },
    [],
    {
      example: "10.0.0.0/8,::1",
      env: "COMMUCAT_TRUSTED_PROXIES",
      defaultText: "[] (none)",
      description: "New. Reverse proxies whose `X-Forwarded-For` is honoured (IPs or CIDRs, " +
        "IPv4/IPv6); empty → the socket peer is the client. Upstream keyed limits on ip:port.",
    },
  ),
});

/** The `[rotation.device]` section. */
export const deviceRotation = z.strictObject({
  enabled: key(boolean(), true, {
    env: "COMMUCAT_ROTATION_DEVICE_ENABLED",
    description: "Allow device key rotation (`POST /api/device/csr`).",
  }),
  min_interval: key(nonNegativeInt(), 86_400, {
    env: "COMMUCAT_ROTATION_DEVICE_MIN_INTERVAL",
    description: "Minimum seconds between rotations of one device.",
  }),
  proof_ttl: key(positiveInt(), 600, {
    env: "COMMUCAT_ROTATION_DEVICE_PROOF_TTL",
    description: "Lifetime of a rotation proof, seconds.",
  }),
  notify_channel: key(intRange(0, 0xffff_ffff), 0, {
    env: "COMMUCAT_ROTATION_DEVICE_NOTIFY_CHANNEL",
    description: "CCP channel for KeyUpdate / friend-request GroupEvent notifications.",
  }),
});
