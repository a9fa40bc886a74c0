/**
 * Store cost of the handshake's writes, without the network or the crypto:
 * the store calls a handshake makes (the identity reads, then
 * {@link Store.commitHandshake}), in CPU-µs per handshake, for each kind of
 * handshake: a new user registering (self-registration), a new device
 * presenting a certificate (existing user), and a returning device (nothing
 * but its session). SQLite on a real file (WAL, the server's defaults); the
 * PostgreSQL store too when `COMMUCAT_TEST_PG_DSN` is set (schema
 * `commucat_hs_bench`, dropped and recreated).
 *
 *   scripts/deno run --allow-all bench/handshake_store.ts [--count 3000] [--concurrency 1]
 *     [--backend sqlite|postgres|both]
 *
 * `--concurrency N` keeps N handshakes' store calls in flight at once (as a
 * storm does); CPU is this process's (the PostgreSQL server's is not counted).
 * "writes" are this process's write system calls per handshake (`syscw` of
 * `/proc/self/io`, Linux only; SQLite's WAL appends are `pwrite64`s).
 *
 * @module
 */
import process from "node:process";
import postgres from "postgres";
import { openStore, type Store } from "../src/storage/mod.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

const count = Number(arg("count", "3000"));
const concurrency = Number(arg("concurrency", "1"));
const backend = arg("backend", "sqlite");

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

let serial = 0;
const key = () => crypto.getRandomValues(new Uint8Array(32));
const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

function session(userId: string, deviceId: string, now: Date) {
  return {
    sessionId: hex(key()),
    userId,
    deviceId,
    tlsFingerprint: "",
    createdAt: now,
    ttlSeconds: 86_400,
  };
}

/** A self-registration: handle lookup, device lookup, then user + device + key event + session. */
async function register(store: Store): Promise<[string, string]> {
  const n = serial++;
  const userId = `u-${n}-${hex(key()).slice(0, 8)}`;
  const deviceId = `d-${n}-${hex(key()).slice(0, 8)}`;
  const now = new Date();
  await store.getDevice(deviceId);
  await store.getUserByHandle(`h${userId}`, "local");
  const publicKey = key();
  await store.commitHandshake({
    createUser: {
      userId,
      handle: `h${userId}`,
      displayName: null,
      avatarUrl: null,
      domain: "local",
      createdAt: now,
      updatedAt: now,
    },
    insertDevice: { deviceId, userId, publicKey, status: "active", createdAt: now },
    keyEvent: { eventId: `e-${deviceId}`, deviceId, publicKey, recordedAt: now },
    session: session(userId, deviceId, now),
  });
  return [userId, deviceId];
}

/** A new device of an existing user with a certificate: reads, then device + key event + session. */
async function certificate(store: Store, userId: string): Promise<void> {
  const deviceId = `c-${serial++}-${hex(key()).slice(0, 8)}`;
  const now = new Date();
  await store.getDevice(deviceId);
  await store.getUser(userId);
  const publicKey = key();
  await store.commitHandshake({
    insertDevice: { deviceId, userId, publicKey, status: "active", createdAt: now },
    keyEvent: { eventId: `e-${deviceId}`, deviceId, publicKey, recordedAt: now },
    session: session(userId, deviceId, now),
  });
}

/** A returning device: device and user reads, then its session. */
async function returning(store: Store, userId: string, deviceId: string): Promise<void> {
  await store.getDevice(deviceId);
  await store.getUser(userId);
  await store.commitHandshake({ session: session(userId, deviceId, new Date()) });
}

/** Write system calls of this process so far; NaN where `/proc/self/io` is missing. */
function writeCalls(): number {
  try {
    return Number(/^syscw: (\d+)$/m.exec(Deno.readTextFileSync("/proc/self/io"))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

async function timed(label: string, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const writes = writeCalls();
  const started = performance.now();
  const cpu = cpuMicros();
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const spent = cpuMicros() - cpu;
  const wall = performance.now() - started;
  const written = writeCalls() - writes;
  console.log(
    `${label.padEnd(34)} ${(spent / count).toFixed(1).padStart(7)} CPU-µs  ` +
      `${(wall * 1000 / count).toFixed(1).padStart(7)} wall-µs  ` +
      `${(written / count).toFixed(1).padStart(5)} writes per handshake`,
  );
}

async function run(name: string, store: Store): Promise<void> {
  // Warm-up: the JIT and the statement caches.
  const warm: [string, string][] = [];
  for (let i = 0; i < 300; i++) warm.push(await register(store));
  const users: [string, string][] = [];
  await timed(`${name} register (new user)`, async () => users.push(await register(store)));
  await timed(`${name} certificate (new device)`, (i) => certificate(store, users[i][0]));
  await timed(`${name} returning device`, (i) => returning(store, users[i][0], users[i][1]));
}

if (backend === "sqlite" || backend === "both") {
  const dir = await Deno.makeTempDir({ prefix: "commucat-hs-" });
  const store = await openStore({ backend: "sqlite", path: `${dir}/commucat.db` }, {
    migrate: true,
  });
  await run("sqlite", store);
  await store.close();
  await Deno.remove(dir, { recursive: true });
}

if (backend === "postgres" || backend === "both") {
  const dsn = Deno.env.get("COMMUCAT_TEST_PG_DSN");
  if (!dsn) throw new Error("COMMUCAT_TEST_PG_DSN is not set");
  const schema = "commucat_hs_bench";
  const admin = postgres(dsn, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  await admin.end({ timeout: 0 });
  const store = await openStore({ backend: "postgres", dsn, schema, poolSize: 4 }, {
    migrate: true,
  });
  await run("postgres", store);
  await store.close();
}
