/**
 * Operator commands for server secrets (upstream §15.3):
 *
 * - `keys rotate` — force a Noise static key rotation; prints the new version and public key.
 * - `keys list` — every stored Noise key version (public keys and times, never private keys).
 * - `admin-token create [--label] [--ttl-hours]` — issue an admin token; printed once.
 * - `admin-token list` — versions, labels and times (never tokens or hashes).
 * - `admin-token revoke <version>`
 *
 * Every command takes `--config <path>` (rotation policy, storage) and
 * `--db <path>` (SQLite file; overrides `storage.sqlite_path`). The store is
 * opened by the `openStore` function given to {@link registerKeyCommands}, so
 * the composition can point these commands at whatever backend the server
 * uses. A running server picks changes up at its next rotation tick (≤ 60 s);
 * admin-token revocations take effect at once (tokens are checked against the
 * store on every request).
 *
 * @module
 */
import { type Command, InvalidArgumentError } from "@commander-js/extra-typings";
import { loadConfig } from "../src/config/mod.ts";
import { toHex } from "../src/crypto/mod.ts";
import {
  AdminTokenManager,
  isActiveAt,
  NOISE_SECRET_NAME,
  NoiseKeyManager,
  type RotationSettings,
  rotationSettingsFromConfig,
} from "../src/security/rotation/mod.ts";
import { openStore, type Store } from "../src/storage/mod.ts";
import { errorLine, messageOf } from "./errors.ts";
import { type MigrateIo as CliIo, stdIo } from "./migrate.ts";

/** The common options of every command here. */
export interface SecretCommandOptions {
  config?: string;
  db?: string;
}

/** Opens the store the commands act on (closed by the command). */
export type OpenStore = (options: SecretCommandOptions) => Promise<Store>;

/** Opens SQLite at `--db`, else at `storage.sqlite_path` of the configuration. */
export const openConfiguredSqliteStore: OpenStore = async (options) => {
  const path = options.db ?? loadConfig({ path: options.config }).storage.sqlitePath;
  return await openStore({ backend: "sqlite", path });
};

/** Injectable pieces (tests). */
export interface KeyCommandDeps {
  io?: CliIo;
  /** Rotation policy; default: from the configuration. */
  settings?: (options: SecretCommandOptions) => RotationSettings;
  now?: () => Date;
}

/** What each command body gets. */
export interface SecretCommandContext {
  store: Store;
  settings: RotationSettings;
  io: CliIo;
  now: () => Date;
}

/** `keys rotate`. */
export async function runKeysRotate(ctx: SecretCommandContext): Promise<number> {
  const manager = new NoiseKeyManager({
    store: ctx.store,
    policy: ctx.settings.noise,
    now: ctx.now,
  });
  const key = await manager.rotateNow();
  ctx.io.write(
    `rotated noise key: version ${key.version}\n` +
      `public key: ${toHex(key.publicKey)}\n` +
      `rotates_at: ${key.rotatesAt.toISOString()}\n` +
      `expires_at: ${key.expiresAt.toISOString()}\n`,
  );
  return 0;
}

/** `keys list`: `*` marks the newest active key (the one new clients get). */
export async function runKeysList(ctx: SecretCommandContext): Promise<number> {
  const now = ctx.now();
  const rows = await ctx.store.listSecrets(NOISE_SECRET_NAME);
  if (rows.length === 0) {
    ctx.io.write("no noise keys stored (the server stores one at its first start)\n");
    return 0;
  }
  const newest = rows.find((row) => isActiveAt(row, now))?.version;
  ctx.io.write(
    "  version  public key                                                        " +
      "valid_after               rotates_at                expires_at                state\n",
  );
  for (const row of rows) {
    const state = isActiveAt(row, now)
      ? "active"
      : row.validAfter.getTime() > now.getTime()
      ? "pending"
      : "expired";
    ctx.io.write(
      `${row.version === newest ? "*" : " "} ${String(row.version).padEnd(8)} ` +
        `${row.public === null ? "(none)".padEnd(64) : toHex(row.public)}  ` +
        `${row.validAfter.toISOString()}  ${row.rotatesAt.toISOString()}  ` +
        `${row.expiresAt.toISOString()}  ${state}\n`,
    );
  }
  return 0;
}

function adminManager(ctx: SecretCommandContext): AdminTokenManager {
  return new AdminTokenManager({ store: ctx.store, policy: ctx.settings.admin, now: ctx.now });
}

/** `admin-token create`: the token is printed here and nowhere else, ever. */
export async function runAdminTokenCreate(
  ctx: SecretCommandContext,
  options: { label?: string; ttlHours?: number },
): Promise<number> {
  const issued = await adminManager(ctx).create(options.label ?? null, options.ttlHours);
  ctx.io.write(
    `version: ${issued.version}\n` +
      (issued.label === null ? "" : `label: ${issued.label}\n`) +
      `expires_at: ${issued.expiresAt.toISOString()}\n` +
      `token: ${issued.token}\n`,
  );
  ctx.io.error("the token is shown only now; store it safely");
  return 0;
}

/** `admin-token list`. */
export async function runAdminTokenList(ctx: SecretCommandContext): Promise<number> {
  const tokens = await adminManager(ctx).list();
  if (tokens.length === 0) {
    ctx.io.write("no admin tokens stored (the server creates one at its first start)\n");
    return 0;
  }
  ctx.io.write(
    "version  kind       created                   expires_at                state    label\n",
  );
  for (const t of tokens) {
    ctx.io.write(
      `${String(t.version).padEnd(8)} ${t.kind.padEnd(10)} ${t.createdAt.toISOString()}  ` +
        `${t.expiresAt.toISOString()}  ${(t.active ? "active" : "expired").padEnd(8)} ` +
        `${t.label ?? ""}`.trimEnd() + "\n",
    );
  }
  return 0;
}

/** `admin-token revoke <version>`. */
export async function runAdminTokenRevoke(
  ctx: SecretCommandContext,
  version: number,
): Promise<number> {
  const manager = adminManager(ctx);
  if (!(await manager.revoke(version))) {
    ctx.io.error(errorLine("admin-token revoke", `no admin token version ${version}`));
    return 1;
  }
  ctx.io.write(`revoked admin token version ${version}\n`);
  if (!(await manager.list()).some((t) => t.active)) {
    ctx.io.error(
      "warning: no active admin token is left; the server generates a new one at its next start",
    );
  }
  return 0;
}

function parsePositive(name: string, integer: boolean) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) {
      throw new InvalidArgumentError(
        `${name} must be a positive ${integer ? "integer" : "number"}`,
      );
    }
    return n;
  };
}

/**
 * Adds `keys rotate|list` and `admin-token create|list|revoke` to `program`.
 * `openStore` opens the store to act on (default: SQLite from `--db` or the
 * configuration).
 */
export function registerKeyCommands(
  program: Command,
  openStore: OpenStore = openConfiguredSqliteStore,
  deps: KeyCommandDeps = {},
): Command {
  const io = deps.io ?? stdIo;
  const settingsOf = deps.settings ??
    ((options: SecretCommandOptions) =>
      rotationSettingsFromConfig(loadConfig({ path: options.config })));
  const run = async (
    command: string,
    options: SecretCommandOptions,
    body: (ctx: SecretCommandContext) => Promise<number>,
  ) => {
    let code: number;
    try {
      const settings = settingsOf(options);
      const store = await openStore(options);
      try {
        code = await body({ store, settings, io, now: deps.now ?? (() => new Date()) });
      } finally {
        await store.close();
      }
    } catch (error) {
      io.error(errorLine(command, messageOf(error)));
      code = 1;
    }
    if (code !== 0) Deno.exitCode = code;
  };
  const configOption = "configuration file (default: $COMMUCAT_CONFIG or ./commucat.toml)";
  const dbOption = "SQLite database file (default: storage.sqlite_path)";

  const keys = program.command("keys").description("the server's Noise static keys");
  keys.command("rotate")
    .description("rotate the Noise static key now (running servers pick it up within 60 s)")
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((options) => run("keys rotate", options, runKeysRotate));
  keys.command("list")
    .description("list Noise key versions (* = the one new clients get)")
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((options) => run("keys list", options, runKeysList));

  const admin = program.command("admin-token").description("admin bearer tokens");
  admin.command("create")
    .description("issue an admin token (printed once)")
    .option("--label <text>", "what the token is for")
    .option("--ttl-hours <hours>", "lifetime in hours", parsePositive("--ttl-hours", false))
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((options) =>
      run(
        "admin-token create",
        options,
        (ctx) => runAdminTokenCreate(ctx, { label: options.label, ttlHours: options.ttlHours }),
      )
    );
  admin.command("list")
    .description("list admin tokens (never the tokens themselves)")
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((options) => run("admin-token list", options, runAdminTokenList));
  admin.command("revoke")
    .description("revoke an admin token by version")
    .argument("<version>", "token version (see `admin-token list`)", parsePositive("version", true))
    .option("-c, --config <path>", configOption)
    .option("--db <path>", dbOption)
    .action((version, options) =>
      run("admin-token revoke", options, (ctx) => runAdminTokenRevoke(ctx, version))
    );
  return program;
}
