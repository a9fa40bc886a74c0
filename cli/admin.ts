/**
 * Operator commands (upstream §14, with `users`, `devices` and a real
 * `diagnose`): register users, issue device keys and certificates, list
 * and revoke devices, and check an installation.
 *
 * Wiring: `registerAdminCommands(program, openStore)` where `openStore`
 * opens the configured store (the same the server uses). `diagnose` itself
 * is diagnose.ts.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { type Config, loadConfig } from "../src/config/mod.ts";
import {
  certificateToJson,
  deviceKeysFromSeed,
  generateId,
  issueCertificate,
  toHex,
} from "../src/crypto/mod.ts";
import { deviceIdProblem, findByHandle, handleKey, handleProblem } from "../src/proto/mod.ts";
import { loadServerKeys, settingsFromConfig } from "../src/server/mod.ts";
import {
  type DeviceRecord,
  type Store,
  StoreConflictError,
  type UserRecord,
} from "../src/storage/mod.ts";
import { type MigrateIo as CliIo, stdIo } from "./migrate.ts";
import { exitWithError, messageOf } from "./errors.ts";
import { diagnose, printDiagnosis } from "./diagnose.ts";

/** Opens the configured store (`config` is the `--config` path, when given). */
export type OpenStore = (config?: string) => Promise<Store>;

/** A failure the command reports as one line and exit code 1. */
export class AdminError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdminError";
  }
}

/** `register-user`: creates a user; prints `user_id=`, `handle=` and the optional profile. */
export async function registerUser(
  store: Store,
  domain: string,
  handle: string,
  profile: { displayName?: string; avatarUrl?: string },
  io: CliIo = stdIo,
): Promise<UserRecord> {
  const raw = handle.trim();
  const problem = handleProblem(raw);
  if (problem !== null) throw new AdminError(`handle ${problem}`);
  // Stored in normal form; taken when any user already holds it in any form (PROTOCOL.md §3).
  const h = handleKey(raw);
  if (await findByHandle(raw, (form) => store.getUserByHandle(form, domain)) !== null) {
    throw new AdminError(`handle ${h} is already taken on ${domain}`);
  }
  const now = new Date();
  const user: UserRecord = {
    userId: generateId(`user:${h}`),
    handle: h,
    displayName: profile.displayName ?? null,
    avatarUrl: profile.avatarUrl ?? null,
    domain,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await store.createUser(user);
  } catch (error) {
    if (error instanceof StoreConflictError) {
      throw new AdminError(`handle ${h} is already taken on ${domain}`);
    }
    throw error;
  }
  io.write(`user_id=${user.userId}\nhandle=${user.handle}\n`);
  if (user.displayName !== null) io.write(`display_name=${user.displayName}\n`);
  if (user.avatarUrl !== null) io.write(`avatar_url=${user.avatarUrl}\n`);
  return user;
}

/**
 * `rotate-keys`: fresh device keys for a user's device (created, or
 * re-keyed and re-activated when it exists) and a 30-day certificate from
 * the device CA. Prints the private key: hand it to the device owner only.
 */
export async function rotateKeys(
  store: Store,
  ca: { seed: Uint8Array; publicKey: Uint8Array },
  target: { user?: string; handle?: string; device?: string; domain: string },
  io: CliIo = stdIo,
): Promise<{ deviceId: string; privateKey: Uint8Array }> {
  if ((target.user === undefined) === (target.handle === undefined)) {
    throw new AdminError("give exactly one of --user <id> or --handle <handle>");
  }
  const user = target.user !== undefined
    ? await store.getUser(target.user)
    : await findByHandle(target.handle!, (form) => store.getUserByHandle(form, target.domain));
  if (user === null) throw new AdminError("user not found");
  const now = new Date();
  const deviceId = target.device ?? `device-${now.getTime()}`;
  const keys = deviceKeysFromSeed(crypto.getRandomValues(new Uint8Array(32)));
  const existing = await store.getDevice(deviceId);
  const idProblem = existing === null ? deviceIdProblem(deviceId) : null;
  if (idProblem !== null) throw new AdminError(`--device ${idProblem}`);
  if (existing !== null && existing.userId !== user.userId) {
    throw new AdminError(`device ${deviceId} belongs to another user`);
  }
  if (existing === null) {
    await store.insertDevice({
      deviceId,
      userId: user.userId,
      publicKey: keys.publicKey,
      status: "active",
      createdAt: now,
    });
  } else {
    await store.updateDeviceKey(deviceId, keys.publicKey);
    await store.setDeviceStatus(deviceId, "active");
  }
  await store.recordDeviceKeyEvent({
    eventId: generateId(`cli-rotate:${deviceId}`),
    deviceId,
    publicKey: keys.publicKey,
    recordedAt: now,
  });
  const certificate = issueCertificate({
    caSeed: ca.seed,
    userId: user.userId,
    deviceId,
    publicKey: keys.publicKey,
    now: Math.floor(now.getTime() / 1000),
    serial: BigInt(now.getTime()) * 1_000_000n,
  });
  io.write(
    [
      `user_id=${user.userId}`,
      `device_id=${deviceId}`,
      `public_key=${toHex(keys.publicKey)}`,
      `private_key=${toHex(keys.privateKey)}`,
      `issuer_public=${toHex(ca.publicKey)}`,
      `certificate_serial=${certificate.serial}`,
      `certificate_expires_at=${new Date(certificate.expires_at * 1000).toISOString()}`,
      `certificate=${certificateToJson(certificate)}`,
    ].join("\n") + "\n",
  );
  return { deviceId, privateKey: keys.privateKey };
}

/** Every user, oldest first (paged through the store). */
async function allUsers(store: Store): Promise<UserRecord[]> {
  const out: UserRecord[] = [];
  for (let offset = 0;; offset += 500) {
    const page = await store.listUsers(500, offset);
    out.push(...page);
    if (page.length < 500) return out;
  }
}

/** `users list`: one line per user. */
export async function listUsers(store: Store, io: CliIo = stdIo): Promise<void> {
  const users = await allUsers(store);
  for (const u of users) {
    io.write(`${u.userId}  ${u.handle}@${u.domain}  created ${u.createdAt.toISOString()}\n`);
  }
  io.write(`${users.length} user(s)\n`);
}

/** `devices list [--user]`: one line per device. */
export async function listDevices(store: Store, userId?: string, io: CliIo = stdIo): Promise<void> {
  const users = userId !== undefined
    ? [await store.getUser(userId)].filter((u): u is UserRecord => u !== null)
    : await allUsers(store);
  if (userId !== undefined && users.length === 0) throw new AdminError("user not found");
  let n = 0;
  for (const u of users) {
    for (const d of await store.listDevicesForUser(u.userId)) {
      io.write(
        `${d.deviceId}  ${d.status}  user ${u.handle} (${u.userId})  ` +
          `key ${toHex(d.publicKey)}  created ${d.createdAt.toISOString()}\n`,
      );
      n++;
    }
  }
  io.write(`${n} device(s)\n`);
}

/**
 * `devices revoke <id>`: marks the device revoked and deletes its sessions.
 * A running server refuses its next handshake and its bearer tokens; a
 * connection open right now ends at its next reconnect (revoking through
 * `POST /api/devices/revoke` also closes it at once).
 */
export async function revokeDevice(
  store: Store,
  deviceId: string,
  io: CliIo = stdIo,
): Promise<DeviceRecord> {
  const device = await store.getDevice(deviceId);
  if (device === null) throw new AdminError(`device ${deviceId} not found`);
  await store.setDeviceStatus(deviceId, "revoked");
  await store.deleteSessionsForDevice(deviceId);
  io.write(`device_id=${deviceId}\nstatus=revoked\n`);
  return device;
}

/** Loads the configuration, or ends `command` with its one-line error (exit 1). */
function loadConfigOrExit(command: string, path: string | undefined): Config {
  try {
    return loadConfig({ path });
  } catch (error) {
    exitWithError(command, error);
  }
}

/** Runs `fn` with the opened store; any failure → one line, exit 1. */
async function withStore(
  command: string,
  openStore: OpenStore,
  config: string | undefined,
  fn: (store: Store) => Promise<unknown>,
): Promise<void> {
  loadConfigOrExit(command, config);
  let store: Store;
  try {
    store = await openStore(config);
  } catch (error) {
    exitWithError(command, `cannot open storage: ${messageOf(error)}`);
  }
  try {
    await fn(store);
  } catch (error) {
    // The command's own error is what the operator needs; a failing close
    // on the way out (store already broken) would only hide it.
    await store.close().catch(() => {});
    exitWithError(command, error);
  }
  await store.close();
}

const CONFIG_OPTION = [
  "-c, --config <path>",
  "configuration file (default: $COMMUCAT_CONFIG or ./commucat.toml)",
] as const;

/** Adds `register-user`, `rotate-keys`, `users list`, `devices list|revoke` and `diagnose`. */
export function registerAdminCommands(program: Command, openStore: OpenStore): void {
  program.command("register-user")
    .description("create a user (prints user_id and handle)")
    .argument("<handle>")
    .option("--display-name <name>")
    .option("--avatar-url <url>")
    .option(...CONFIG_OPTION)
    .action(async (handle, o) => {
      const domain = loadConfigOrExit("register-user", o.config).server.domain;
      await withStore(
        "register-user",
        openStore,
        o.config,
        (store) =>
          registerUser(store, domain, handle, {
            displayName: o.displayName,
            avatarUrl: o.avatarUrl,
          }),
      );
    });

  program.command("rotate-keys")
    .description("issue new device keys and a 30-day certificate for a user's device")
    .option("--user <id>")
    .option("--handle <handle>")
    .option("--device <id>", "device id (default: device-<unix ms>)")
    .option(...CONFIG_OPTION)
    .action(async (o) => {
      const config = loadConfigOrExit("rotate-keys", o.config);
      let keys;
      try {
        keys = await loadServerKeys(settingsFromConfig(config));
      } catch (error) {
        exitWithError("rotate-keys", `cannot load the device CA key: ${messageOf(error)}`);
      }
      await withStore("rotate-keys", openStore, o.config, (store) =>
        rotateKeys(store, keys.ca, {
          user: o.user,
          handle: o.handle,
          device: o.device,
          domain: config.server.domain,
        }));
    });

  const users = program.command("users").description("user accounts");
  users.command("list")
    .description("list users")
    .option(...CONFIG_OPTION)
    .action(async (o) =>
      await withStore("users list", openStore, o.config, (store) => listUsers(store))
    );

  const devices = program.command("devices").description("devices of users");
  devices.command("list")
    .description("list devices (all, or of one user)")
    .option("--user <id>")
    .option(...CONFIG_OPTION)
    .action(async (o) =>
      await withStore("devices list", openStore, o.config, (store) => listDevices(store, o.user))
    );
  devices.command("revoke")
    .description("revoke a device: its handshakes and bearer tokens are refused")
    .argument("<device_id>")
    .option(...CONFIG_OPTION)
    .action(async (deviceId, o) =>
      await withStore(
        "devices revoke",
        openStore,
        o.config,
        (store) => revokeDevice(store, deviceId),
      )
    );

  program.command("diagnose")
    .description("check configuration, keys, storage and TLS certificate")
    .option(...CONFIG_OPTION)
    .action(async (o) => {
      const code = printDiagnosis(await diagnose(o.config));
      if (code !== 0) Deno.exit(code);
    });
}
