/**
 * Spawns the real `commucat serve` process (the same entry point operators
 * run) on an ephemeral port with its own data directory.
 */
import { fromHex } from "../../src/crypto/mod.ts";
import type { ServerHandle } from "./devices.ts";
import { SERVE_ALLOW_ENV } from "./serve_flags.ts";

export { SERVE_ALLOW_ENV };

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const REPO = new URL("../../", import.meta.url).pathname;

/** A running server process. */
export interface ServerProcess extends ServerHandle {
  child: Deno.ChildProcess;
  dataDir: string;
  port: number;
  /** Everything the process printed on stdout so far. */
  stdout(): string;
  /** Everything the process printed on stderr (its log) so far. */
  stderr(): string;
  /** SIGKILL (no cleanup at all). */
  kill(): Promise<void>;
  /** SIGTERM and wait; returns the exit code. */
  stop(): Promise<number>;
}

/** Starts `main.ts serve`; resolves once it printed where it listens. */
export async function spawnServer(options: {
  dataDir?: string;
  port?: number;
  env?: Record<string, string>;
  /** Runs the server under `ulimit -n <fdLimit>` (through bash). */
  fdLimit?: number;
  /** More arguments after `serve` (e.g. `--migrate`). */
  args?: string[];
} = {}): Promise<ServerProcess> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "commucat-proc-" });
  const denoArgs = [
    "run",
    `--allow-net`,
    `--allow-read=${dataDir},${REPO}`,
    `--allow-write=${dataDir}`,
    // The operators' environment permission, PostgreSQL and Redis backends included.
    SERVE_ALLOW_ENV,
    MAIN,
    "serve",
    ...options.args ?? [],
  ];
  const [command, args] = options.fdLimit === undefined ? [Deno.execPath(), denoArgs] : ["bash", [
    "-c",
    `ulimit -n ${options.fdLimit} && exec "$0" "$@"`,
    Deno.execPath(),
    ...denoArgs,
  ]];
  const child = new Deno.Command(command, {
    args,
    cwd: dataDir,
    env: {
      COMMUCAT_BIND: `127.0.0.1:${options.port ?? 0}`,
      COMMUCAT_DATA_DIR: dataDir,
      COMMUCAT_LOG_LEVEL: "warning",
      // Every test client comes from 127.0.0.1: one address must not trip the limits.
      COMMUCAT_RATE_HTTP_BURST: "1000000",
      COMMUCAT_RATE_CONNECT_BURST: "1000000",
      COMMUCAT_RATE_PAIRING_BURST: "1000000",
      COMMUCAT_MAX_CONNECTIONS_PER_IP: "100000",
      NO_COLOR: "1",
      ...options.env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const decoder = new TextDecoder();
  const info = new Promise<Record<string, string>>((resolve, reject) => {
    (async () => {
      for await (const chunk of child.stdout) {
        out += decoder.decode(chunk, { stream: true });
        const port = out.match(/listening on https:\/\/[^\s]+:(\d+)/)?.[1];
        const noise = out.match(/noise public key: ([0-9a-f]{64})/)?.[1];
        const domain = out.match(/domain: (\S+)/)?.[1];
        const cert = out.match(/tls certificate: (\S+)/)?.[1];
        if (port && noise && domain && cert) resolve({ port, noise, domain, cert });
      }
      reject(new Error(`server exited before listening:\n${out}\n${err}`));
    })();
    (async () => {
      for await (const chunk of child.stderr) err += decoder.decode(chunk, { stream: true });
    })();
  });
  // A bound, not a speed check: a cold start under load took 19 s (module graph, WASM, TLS).
  const timeout = setTimeout(() => child.kill("SIGKILL"), 90_000);
  const found = await info.finally(() => clearTimeout(timeout));
  const certPath = found.cert.startsWith("/") ? found.cert : `${dataDir}/${found.cert}`;
  const port = Number(found.port);
  return {
    child,
    dataDir,
    port,
    url: `https://localhost:${port}`,
    domain: found.domain,
    noisePublic: fromHex(found.noise, 32),
    certificatePem: await Deno.readTextFile(certPath),
    stdout: () => out,
    stderr: () => err,
    async kill() {
      child.kill("SIGKILL");
      await child.status;
    },
    async stop() {
      child.kill("SIGTERM");
      const code = (await child.status).code;
      // A data dir this helper made is removed; one passed in belongs to the caller.
      if (!options.dataDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      return code;
    },
  };
}

/** Whether util-linux `prlimit` is there (tests that lower a process's descriptor limit need it). */
export const havePrlimit: boolean = await new Deno.Command("prlimit", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** Sets the soft and hard descriptor limit of process `pid` (util-linux `prlimit`). */
export async function setFdLimit(pid: number, soft: number, hard: number): Promise<void> {
  const out = await new Deno.Command("prlimit", {
    args: [`--pid=${pid}`, `--nofile=${soft}:${hard}`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`prlimit: ${new TextDecoder().decode(out.stderr)}`);
}

/**
 * The soft and hard descriptor limits of process `pid`, and how many it has open now. Read
 * through `prlimit` and `ls`: Deno lets a test read `/proc/<pid>/...` only with --allow-all.
 */
export async function fdUsage(pid: number): Promise<{ soft: number; hard: number; open: number }> {
  const run = async (command: string, args: string[]) => {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.success ? out.stdout : out.stderr);
    if (!out.success) throw new Error(`${command}: ${text}`);
    return text;
  };
  const limits = await run("prlimit", [
    `--pid=${pid}`,
    "--nofile",
    "--raw",
    "--noheadings",
    "--output=SOFT,HARD",
  ]);
  const [soft, hard] = limits.trim().split(/\s+/).map(Number);
  const open = (await run("ls", [`/proc/${pid}/fd`])).split("\n").filter(Boolean).length;
  return { soft, hard, open };
}
