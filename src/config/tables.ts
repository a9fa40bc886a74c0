/**
 * The two list-valued settings: static federation peers and TURN servers.
 *
 * @module
 */
import { z } from "zod";
import { hexExact, isUrlWithScheme } from "./kinds.ts";

const DOMAIN =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A statically configured federation peer. */
export interface FederationPeer {
  /** Peer domain, lower-cased. */
  readonly domain: string;
  /** Base URL of the peer's federation endpoint. */
  readonly endpoint: string;
  /** Peer's Ed25519 federation public key, lower-case hex (32 bytes). */
  readonly publicKey: string;
}

const peerEntry = z.strictObject({
  domain: z.string({ error: "expected a domain name" })
    .regex(DOMAIN, { error: "expected a domain name" })
    .transform((d) => d.toLowerCase()),
  endpoint: z.string({ error: "expected an http:// or https:// URL" })
    .refine((v) => isUrlWithScheme(v, ["http", "https"]), {
      error: "expected an http:// or https:// URL",
    }),
  public_key: hexExact(32).schema,
});

/**
 * Upstream string form `domain,endpoint,pubkeyhex32;domain2,…` into the table
 * form. Empty entries (e.g. a trailing `;`) are skipped.
 */
function peersFromString(value: string, ctx: z.RefinementCtx): unknown {
  const entries = value.split(";").map((e) => e.trim()).filter((e) => e !== "");
  const out = [];
  for (const [i, entry] of entries.entries()) {
    const parts = entry.split(",").map((p) => p.trim());
    if (parts.length !== 3) {
      ctx.addIssue({
        code: "custom",
        message: `entry ${i + 1} has ${parts.length} comma-separated part(s); ` +
          `expected "domain,endpoint,pubkeyhex32" entries separated by ";"`,
      });
      return z.NEVER;
    }
    out.push({ domain: parts[0], endpoint: parts[1], public_key: parts[2] });
  }
  return out;
}

/**
 * `federation.peers`: either the upstream string or a TOML array of tables
 * `[[federation.peers]]`; both normalise to {@linkcode FederationPeer}[].
 */
export const federationPeers = z.preprocess(
  (v, ctx) => typeof v === "string" ? peersFromString(v, ctx) : v,
  z.array(peerEntry, {
    error: 'expected a "domain,endpoint,pubkey;…" string or an array of tables',
  }),
).superRefine((peers, ctx) => {
  const seen = new Set<string>();
  for (const [i, p] of peers.entries()) {
    if (seen.has(p.domain)) {
      ctx.addIssue({ code: "custom", message: `duplicate peer domain "${p.domain}"`, path: [i] });
    }
    seen.add(p.domain);
  }
}).transform((peers): FederationPeer[] =>
  peers.map((p) => ({ domain: p.domain, endpoint: p.endpoint, publicKey: p.public_key }))
);

/** `urls` of a TURN server: a comma-separated string or an array of strings. */
export const turnUrls = z.preprocess(
  (v) => typeof v === "string" ? v.split(",").map((u) => u.trim()).filter((u) => u !== "") : v,
  z.array(
    z.string().regex(/^(?:stuns?|turns?):\S+$/, {
      error: "expected stun:, stuns:, turn: or turns: URLs",
    }),
    { error: "expected a comma-separated string or an array of stun:/turn: URLs" },
  ).min(1, { error: "expected at least one stun:/turn: URL" }),
);

/** Credentials of a TURN server: coturn REST shared secret, or static ones. */
export type TurnAuth =
  | { readonly kind: "secret"; readonly secret: string }
  | { readonly kind: "static"; readonly username: string; readonly password: string };

/** A configured TURN server (`[ice.turn.<name>]`). */
export interface TurnServer {
  /** The `<name>` of its table. */
  readonly name: string;
  /** stun:/turn: URLs handed to clients. */
  readonly urls: readonly string[];
  /** How clients get credentials. */
  readonly auth: TurnAuth;
  /** Optional realm advertised to clients. */
  readonly realm?: string;
}

/** Raw shape of one `[ice.turn.<name>]` table after field validation. */
export interface RawTurnServer {
  urls: string[];
  secret?: string;
  username?: string;
  password?: string;
  realm?: string;
}

/** Cross-field rule of a TURN table: a secret, or username+password, not both. */
export function checkTurnServer(t: RawTurnServer, ctx: z.RefinementCtx): void {
  const hasStatic = t.username !== undefined || t.password !== undefined;
  if (t.secret !== undefined && hasStatic) {
    ctx.addIssue({
      code: "custom",
      message: "give either secret or username+password, not both",
      path: ["secret"],
    });
  } else if (t.secret === undefined && !hasStatic) {
    ctx.addIssue({
      code: "custom",
      message: "missing credentials: give secret or username+password",
      path: ["urls"],
    });
  } else if (hasStatic && (t.username === undefined || t.password === undefined)) {
    ctx.addIssue({
      code: "custom",
      message: "username and password must be given together",
      path: [t.username === undefined ? "password" : "username"],
    });
  }
}

/** Turns the `[ice.turn.<name>]` record into a list, in file order. */
export function turnServersFromRecord(record: Record<string, RawTurnServer>): TurnServer[] {
  return Object.entries(record).map(([name, t]) => {
    const auth: TurnAuth = t.secret !== undefined
      ? { kind: "secret", secret: t.secret }
      : { kind: "static", username: t.username ?? "", password: t.password ?? "" };
    return t.realm === undefined ? { name, urls: t.urls, auth } : {
      name,
      urls: t.urls,
      auth,
      realm: t.realm,
    };
  });
}

/** `security.trusted_proxies`: IPs / CIDRs, a comma-separated string or an array. */
export const trustedProxies = z.preprocess(
  (v) => typeof v === "string" ? v.split(",").map((s) => s.trim()).filter((s) => s !== "") : v,
  z.array(
    z.string().regex(/^\[?[0-9A-Fa-f:.]+\]?(?:\/\d{1,3})?$/, {
      error: "expected an IP address or CIDR (e.g. 10.0.0.0/8, ::1)",
    }),
    { error: "expected a comma-separated string or an array of IPs / CIDRs" },
  ),
);
