/**
 * Cross-instance routing throughput: two server processes sharing one
 * PostgreSQL and one Redis (private, throwaway servers), N device pairs with
 * the sender on instance A and the receiver on instance B, compared with the
 * same pairs on one instance (PostgreSQL) and on the embedded default
 * (SQLite). Prints a markdown table.
 *
 *   scripts/deno run --allow-all bench/load/cluster.ts [--pairs 20] [--seconds 5] [--window 8]
 *
 * @module
 */
import { CommuCatClient } from "../../src/client/mod.ts";
import {
  certificateToJson,
  deviceKeysFromSeed,
  fromHex,
  issueCertificate,
} from "../../src/crypto/mod.ts";
import { connectOptions, newDevice } from "../../tests/helpers/devices.ts";
import { type ServerProcess, spawnServer } from "../../tests/helpers/process.ts";
import { startPrivatePostgres, startPrivateRedis } from "../../tests/helpers/services.ts";
import { LatencyHistogram } from "./stats.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const PAIRS = arg("pairs", 20);
const SECONDS = arg("seconds", 5);
const WINDOW = arg("window", 8);

interface Result {
  setup: string;
  delivered: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** Runs pairs (sender on `from`, receiver on `to`) for SECONDS; returns delivered/s and latency. */
async function run(
  setup: string,
  from: ServerProcess,
  to: ServerProcess,
  dataDir: string,
): Promise<Result> {
  const ca = deviceKeysFromSeed(
    fromHex((await Deno.readTextFile(`${dataDir}/federation.seed`)).trim()),
  );
  const pairs: { tx: CommuCatClient; rx: CommuCatClient; channel: number }[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const tx = await CommuCatClient.connect(
      connectOptions(from, newDevice("tx"), { mode: "websocket" }),
    );
    // The receiver is a second device of the sender's user (certified by the CA): always reachable.
    const device = newDevice("rx");
    const certificate = certificateToJson(issueCertificate({
      caSeed: ca.privateKey,
      userId: tx.session.userId,
      deviceId: device.deviceId,
      publicKey: device.publicKey,
      now: Math.floor(Date.now() / 1000),
    }));
    const rx = await CommuCatClient.connect(
      connectOptions(to, device, { mode: "websocket", certificate, user: undefined }),
    );
    const channel = 100_000 + results.length * 10_000 + i;
    await tx.join(channel, [device.deviceId]);
    pairs.push({ tx, rx, channel });
  }
  const latency = new LatencyHistogram();
  let delivered = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const payload = new Uint8Array(100);
  const view = new DataView(payload.buffer);
  await Promise.all(pairs.flatMap(({ tx, rx, channel }) => [
    (async () => {
      const inFlight = new Set<Promise<unknown>>();
      while (performance.now() < deadline) {
        view.setFloat64(0, performance.now());
        const sent = tx.send(channel, payload.slice()).catch(() => {});
        inFlight.add(sent);
        sent.finally(() => inFlight.delete(sent));
        if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    })(),
    (async () => {
      while (true) {
        const frame = await Promise.race([
          rx.next(),
          new Promise<null>((r) =>
            setTimeout(() => r(null), Math.max(0, deadline - performance.now()) + 2000)
          ),
        ]);
        if (!frame) break;
        delivered++;
        latency.record(
          performance.now() -
            new DataView(frame.payload.buffer, frame.payload.byteOffset).getFloat64(0),
        );
      }
    })(),
  ]));
  for (const { tx, rx } of pairs) {
    tx.close();
    rx.close();
  }
  const s = latency.summary();
  return { setup, delivered, perSecond: delivered / SECONDS, p50: s.p50, p99: s.p99 };
}

const results: Result[] = [];
{
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-bench-sqlite-" });
  const a = await spawnServer({ dataDir });
  results.push(await run("1 instance, SQLite (embedded)", a, a, dataDir));
  await a.stop();
  await Deno.remove(dataDir, { recursive: true });
}
{
  const pg = await startPrivatePostgres();
  const redis = await startPrivateRedis();
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-bench-cluster-" });
  const env = {
    COMMUCAT_STORAGE_BACKEND: "postgres",
    COMMUCAT_PG_DSN: pg.dsn,
    COMMUCAT_PRESENCE_BACKEND: "redis",
    COMMUCAT_REDIS_URL: redis.url,
  };
  const a = await spawnServer({ dataDir, env });
  const b = await spawnServer({ dataDir, env });
  results.push(await run("1 instance, PostgreSQL + Redis", a, a, dataDir));
  results.push(await run("2 instances, PostgreSQL + Redis, cross-instance", a, b, dataDir));
  await Promise.all([a.stop(), b.stop()]);
  await redis.stop();
  await pg.destroy();
  await Deno.remove(dataDir, { recursive: true });
}

console.log(
  `pairs ${PAIRS}, ${SECONDS} s, window ${WINDOW} unacknowledged sends per pair, 100 B, WebSocket\n`,
);
console.log("| setup | delivered | msg/s | p50 ms | p99 ms |");
console.log("|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.setup} | ${r.delivered} | ${Math.round(r.perSecond)} | ${r.p50.toFixed(1)} | ${
      r.p99.toFixed(1)
    } |`,
  );
}
