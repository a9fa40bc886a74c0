/**
 * The CommuCat server a load run measures: spawned (pinned to the server
 * cores, perf-friendly V8 flags with `--profile`) or one already running
 * (`--target`), with its pid checked for /proc sampling and its target
 * completed with the server's ML-DSA-65 pin.
 *
 * @module
 */
import { acceptEnv } from "./accept_modes.ts";
import type { TargetJson } from "./agent.ts";
import type { LoadOptions } from "./options.ts";
import { canReadProc } from "./procfs.ts";
import { spawnCommuCat, type SpawnedServer } from "./spawn.ts";

/** Spawns a CommuCat server as the run's options ask (cores, profiling flags), with `env`. */
export function spawnServer(o: LoadOptions, env: Record<string, string>): Promise<SpawnedServer> {
  return spawnCommuCat({
    v8Flags: [
      ...(o.profileDir ? ["--perf-basic-prof", "--interpreted-frames-native-stack"] : []),
      ...(o.serverV8Flags ?? []),
    ],
    cpus: o.pin?.server ?? null,
    logPath: o.serverLog,
    env,
  });
}

/** The server under test: where to connect, its pid (if sampled), and the spawned process. */
export interface ServerUnderTest {
  target: TargetJson;
  /** undefined = CPU and memory are not sampled (no pid, or /proc unreadable). */
  pid: number | undefined;
  /** The spawned server; null with `--target`. */
  server: SpawnedServer | null;
}

/**
 * Spawns the server (in `--accept`'s first mode, with `env` added) or takes
 * the external one; why its CPU and memory are not sampled goes to `notes`.
 */
export async function startServer(
  o: LoadOptions,
  env: Record<string, string>,
  notes: string[],
): Promise<ServerUnderTest> {
  let target: TargetJson;
  let pid: number | undefined;
  let server: SpawnedServer | null = null;
  if (o.external) {
    target = o.external.target;
    pid = o.external.pid;
    if (pid === undefined) notes.push("No --server-pid: server CPU and memory were not sampled.");
  } else {
    o.progress("starting commucat serve");
    server = await spawnServer(o, {
      ...env,
      ...acceptEnv(o.accept === "direct" ? "direct" : "guarded"),
    });
    target = server.target;
    pid = server.pid;
  }
  if (pid !== undefined && !canReadProc(pid)) {
    notes.push(`/proc/${pid} is unreadable: server CPU and memory were not sampled.`);
    pid = undefined;
  }
  return { target, pid, server };
}

/**
 * `target` with the server's ML-DSA-65 key from its server-info, so hybrid
 * patterns can pin it (unchanged when the server offers no post-quantum).
 */
export async function withPqPin(target: TargetJson): Promise<TargetJson> {
  if (target.pqPublicHex) return target;
  const client = Deno.createHttpClient({ caCerts: [target.certificatePem] });
  try {
    const response = await fetch(`${target.url}/api/server-info`, { client });
    const info = await response.json() as { post_quantum?: { signing_public?: string | null } };
    const pin = info.post_quantum?.signing_public;
    return pin ? { ...target, pqPublicHex: pin } : target;
  } catch {
    return target;
  } finally {
    client.close();
  }
}
