/**
 * Cross-key rules of the schema (pairs that go together, conditional
 * requirements, the Noise key pair's consistency) and derived values
 * (`<data_dir>` and `{domain}` expansion, conditional defaults).
 *
 * @module
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { z } from "zod";
import { isUrlWithScheme } from "./kinds.ts";
import type { RawConfig } from "./schema.ts";

/** Placeholder expanded to `server.data_dir` in path values. */
export const DATA_DIR = "<data_dir>";

/** Expands {@linkcode DATA_DIR} in `path` to `dataDir`. */
export function resolveDataDir(path: string, dataDir: string): string {
  const dir = dataDir === "/" ? "" : dataDir.replace(/\/+$/, "");
  return path.replaceAll(DATA_DIR, dir);
}

const PKCS8_X25519_PREFIX = "302e020100300506032b656e04220420";

/** X25519 public key (hex) of a 32-byte private key given as hex. */
export function x25519PublicHex(privateHex: string): string {
  const der = hexBytes(PKCS8_X25519_PREFIX + privateHex);
  const key = createPrivateKey({ key: der as never, format: "der", type: "pkcs8" });
  const spki = new Uint8Array(createPublicKey(key).export({ format: "der", type: "spki" }));
  return [...spki.subarray(spki.length - 32)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Constant-time equality of two equal-length strings (public keys here, but cheap anyway). */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const HEX32 = /^[0-9a-f]{64}$/;

type Ctx = z.RefinementCtx;

function bothOrNeither(
  ctx: Ctx,
  section: string,
  a: [string, unknown],
  b: [string, unknown],
): void {
  const [aName, aValue] = a;
  const [bName, bValue] = b;
  if ((aValue === undefined) === (bValue === undefined)) return;
  const [present, missing] = aValue === undefined ? [bName, aName] : [aName, bName];
  ctx.addIssue({
    code: "custom",
    message: `${section}.${missing} is missing; set both ${section}.${aName} and ` +
      `${section}.${bName}, or neither`,
    path: [section, present],
  });
}

/** Paths the server serves itself: `transport.websocket_path` may not shadow them. */
const RESERVED_PATHS = [
  "/connect",
  "/api",
  "/app",
  "/healthz",
  "/readyz",
  "/metrics",
  "/federation",
];

/**
 * Cross-key rules. Runs even when single keys failed (zod keeps going), so it
 * only looks at values of the expected type.
 */
export function checkConfig(raw: RawConfig, ctx: Ctx): void {
  const { server, storage, presence, crypto, ledger, transport } = raw;
  bothOrNeither(ctx, "server", ["tls_cert", server.tls_cert], ["tls_key", server.tls_key]);
  bothOrNeither(ctx, "crypto", ["noise_private", crypto.noise_private], [
    "noise_public",
    crypto.noise_public,
  ]);
  // Upstream's REALITY keys are kept by name only to refuse them: there is no
  // REALITY peer (xray) to build and test against, and a key that silently
  // does nothing would promise an obfuscation that is not there.
  for (const name of ["reality_cert", "reality_fingerprint"] as const) {
    if (transport[name] !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: "REALITY is not supported (no peer implementation is available); remove the key",
        path: ["transport", name],
      });
    }
  }
  if (
    transport.websocket_path !== undefined &&
    RESERVED_PATHS.some((p) =>
      transport.websocket_path === p || transport.websocket_path!.startsWith(`${p}/`)
    )
  ) {
    ctx.addIssue({
      code: "custom",
      message: `must not be (or be under) a path the server already serves: ${
        RESERVED_PATHS.join(", ")
      }`,
      path: ["transport", "websocket_path"],
    });
  }
  if (transport.shadowsocks.bind !== undefined && transport.shadowsocks.password === undefined) {
    ctx.addIssue({
      code: "custom",
      message: "required when transport.shadowsocks.bind is set",
      path: ["transport", "shadowsocks", "password"],
    });
  }
  const pt = transport.pt;
  if (typeof pt.transport === "string" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(pt.transport)) {
    ctx.addIssue({
      code: "custom",
      message: "expected a transport name (letters, digits, _), e.g. obfs4",
      path: ["transport", "pt", "transport"],
    });
  }
  if (
    typeof pt.options === "string" && !/^[^\s;=]+=[^\s;]*(?:;[^\s;=]+=[^\s;]*)*$/.test(pt.options)
  ) {
    ctx.addIssue({
      code: "custom",
      message: "expected k=v pairs separated by ; (e.g. iat-mode=1)",
      path: ["transport", "pt", "options"],
    });
  }
  if (storage.backend === "postgres" && storage.postgres_dsn === undefined) {
    ctx.addIssue({
      code: "custom",
      message: 'required when storage.backend = "postgres"',
      path: ["storage", "postgres_dsn"],
    });
  }
  if (presence.backend === "redis" && storage.redis_url === undefined) {
    ctx.addIssue({
      code: "custom",
      message: 'required when presence.backend = "redis"',
      path: ["storage", "redis_url"],
    });
  }
  if (ledger.mode === "file" && ledger.target === undefined) {
    ctx.addIssue({
      code: "custom",
      message: 'required when ledger.mode = "file"',
      path: ["ledger", "target"],
    });
  }
  const priv = crypto.noise_private;
  const pub = crypto.noise_public;
  if (typeof priv === "string" && typeof pub === "string" && HEX32.test(priv) && HEX32.test(pub)) {
    if (!sameText(x25519PublicHex(priv), pub)) {
      ctx.addIssue({
        code: "custom",
        message: "is not the X25519 public key of crypto.noise_private",
        path: ["crypto", "noise_public"],
      });
    }
  }
}

/** Fills derived values: `<data_dir>` paths, `{domain}` URLs, conditional defaults. */
export function deriveConfig(raw: RawConfig, ctx: z.RefinementCtx) {
  const dataDir = raw.server.data_dir;
  const baseUrl = raw.uploads.base_url.replaceAll("{domain}", raw.server.domain).replace(
    /\/+$/,
    "",
  );
  if (!isUrlWithScheme(baseUrl, ["http", "https"])) {
    ctx.addIssue({
      code: "custom",
      message: `expected an http:// or https:// URL`,
      path: ["uploads", "base_url"],
    });
    return z.NEVER;
  }
  const path = (p: string | undefined) => p === undefined ? undefined : resolveDataDir(p, dataDir);
  return {
    ...raw,
    server: {
      ...raw.server,
      tls_cert: path(raw.server.tls_cert),
      tls_key: path(raw.server.tls_key),
    },
    storage: { ...raw.storage, sqlite_path: resolveDataDir(raw.storage.sqlite_path, dataDir) },
    ledger: { ...raw.ledger, target: path(raw.ledger.target) },
    uploads: { ...raw.uploads, dir: resolveDataDir(raw.uploads.dir, dataDir), base_url: baseUrl },
    security: {
      ...raw.security,
      rotation: {
        ...raw.security.rotation,
        admin_enabled: raw.security.rotation.admin_enabled ?? raw.admin.token !== undefined,
      },
    },
    ice: {
      ...raw.ice,
      lite_bind: raw.ice.lite_bind ?? (raw.ice.lite_enabled ? "0.0.0.0:3478" : undefined),
    },
    transport: {
      ...raw.transport,
      reality_cert: path(raw.transport.reality_cert),
      pt: { ...raw.transport.pt, state_dir: resolveDataDir(raw.transport.pt.state_dir, dataDir) },
    },
  };
}
