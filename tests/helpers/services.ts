/**
 * Private, disposable PostgreSQL and Redis servers for tests that must
 * restart them (the machine's shared ones must never be disturbed).
 */

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

async function which(binary: string): Promise<string | null> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `command -v ${binary}`],
    stdout: "piped",
  })
    .output().catch(() => null);
  const path = out ? new TextDecoder().decode(out.stdout).trim() : "";
  return path || null;
}

/** Whether a private redis-server can be started here. */
export async function haveRedisServer(): Promise<boolean> {
  return (await which("redis-server")) !== null;
}

/** A redis-server child on its own port; `stop`/`start` keep the port. */
export interface PrivateRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a throwaway redis-server (no persistence). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = freePort();
  let child: Deno.ChildProcess | null = null;
  const ping = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
    } finally {
      conn.close();
    }
  };
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      child = new Deno.Command("redis-server", {
        args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitFor(ping, "redis-server");
    },
    async stop() {
      if (!child) return;
      child.kill("SIGKILL");
      await child.status;
      child = null;
    },
  };
  await redis.start();
  return redis;
}

const PG_BIN_GLOB = "/usr/lib/postgresql";

async function postgresBinDir(): Promise<string | null> {
  try {
    const versions: string[] = [];
    for await (const entry of Deno.readDir(PG_BIN_GLOB)) versions.push(entry.name);
    versions.sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = `${PG_BIN_GLOB}/${v}/bin`;
      if (await Deno.stat(`${dir}/initdb`).then(() => true, () => false)) return dir;
    }
  } catch { /* not installed */ }
  return null;
}

/** Whether a private PostgreSQL cluster can be created here (initdb + a postgres user). */
export async function havePrivatePostgres(): Promise<boolean> {
  return (await postgresBinDir()) !== null && (await which("runuser")) !== null;
}

/** A private PostgreSQL cluster on its own port; `stop`/`start` keep the data. */
export interface PrivatePostgres {
  dsn: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/** initdb + start a disposable cluster (trust auth, database `commucat`). */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = await postgresBinDir();
  if (!bin) throw new Error("PostgreSQL binaries not found");
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "commucat-pg-" });
  const asPostgres = async (args: string[]) => {
    const out = await new Deno.Command("runuser", {
      args: ["-u", "postgres", "--", ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) throw new Error(`${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  };
  await new Deno.Command("chown", { args: ["postgres", dir] }).output();
  await asPostgres([
    `${bin}/initdb`,
    "-D",
    `${dir}/data`,
    "-A",
    "trust",
    "-U",
    "postgres",
    "--no-sync",
  ]);
  const pg: PrivatePostgres = {
    dsn: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await asPostgres([
        `${bin}/pg_ctl`,
        "-D",
        `${dir}/data`,
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        "-l",
        `${dir}/log`,
        "-w",
        "start",
      ]);
    },
    async stop() {
      await asPostgres([`${bin}/pg_ctl`, "-D", `${dir}/data`, "-m", "immediate", "-w", "stop"]);
    },
    async destroy() {
      await pg.stop().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  await pg.start();
  return pg;
}
