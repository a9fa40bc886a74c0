/**
 * Several instances sharing PostgreSQL (durable state) and Redis (presence,
 * bus): live and offline delivery across instances, and both services
 * restarted under traffic without losing anything that was acknowledged.
 * Uses private PostgreSQL and Redis servers so restarts disturb nobody.
 */
import assert from "node:assert/strict";
import { CommuCatClient, ServerError } from "../src/client/mod.ts";
import { deviceKeysFromSeed, fromHex, fromUtf8, issueCertificate } from "../src/crypto/mod.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { type ServerProcess, spawnServer } from "./helpers/process.ts";
import {
  havePrivatePostgres,
  haveRedisServer,
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
} from "./helpers/services.ts";

const available = (await havePrivatePostgres()) && (await haveRedisServer());
const suffix = available ? "" : " (skipped: PostgreSQL binaries or redis-server missing)";

interface Cluster {
  pg: PrivatePostgres;
  redis: PrivateRedis;
  a: ServerProcess;
  b: ServerProcess;
  dataDir: string;
  close(): Promise<void>;
}

async function startCluster(): Promise<Cluster> {
  const pg = await startPrivatePostgres();
  const redis = await startPrivateRedis();
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-cluster-" });
  const env = {
    COMMUCAT_STORAGE_BACKEND: "postgres",
    COMMUCAT_PG_DSN: pg.dsn,
    COMMUCAT_PRESENCE_BACKEND: "redis",
    COMMUCAT_REDIS_URL: redis.url,
    COMMUCAT_PRESENCE_TTL: "4",
  };
  // Same data dir: one deployment, one Noise key, one device CA, one TLS cert.
  const a = await spawnServer({ dataDir, env });
  const b = await spawnServer({ dataDir, env });
  return {
    pg,
    redis,
    a,
    b,
    dataDir,
    async close() {
      await Promise.all([a.stop(), b.stop()]);
      await redis.stop();
      await pg.destroy();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** A second device of `owner`'s user, certified by the deployment's device CA. */
async function secondDevice(
  cluster: Cluster,
  userId: string,
): Promise<TestDevice & { certificate: string }> {
  const seed = fromHex((await Deno.readTextFile(`${cluster.dataDir}/federation.seed`)).trim());
  const ca = deviceKeysFromSeed(seed);
  const device = newDevice("second");
  const cert = issueCertificate({
    caSeed: ca.privateKey,
    userId,
    deviceId: device.deviceId,
    publicKey: device.publicKey,
    now: Math.floor(Date.now() / 1000),
  });
  const { certificateToJson } = await import("../src/crypto/mod.ts");
  return { ...device, certificate: certificateToJson(cert) };
}

/** Connects `device` (a certified second device) to `server`. */
function connectSecond(server: ServerProcess, device: TestDevice & { certificate: string }) {
  return CommuCatClient.connect(
    connectOptions(server, device, { certificate: device.certificate, user: undefined }),
  );
}

/**
 * A device on A and a second device of the same user on B (own devices may
 * always share a route), joined on `channel`.
 */
async function pairAcross(cluster: Cluster, channel: number) {
  const x = await CommuCatClient.connect(connectOptions(cluster.a, newDevice("x")));
  const phone = await secondDevice(cluster, x.session.userId);
  const y = await connectSecond(cluster.b, phone);
  await x.join(channel, [phone.deviceId]);
  return { x, phone, y };
}

async function readyz(server: ServerProcess): Promise<number> {
  const http = Deno.createHttpClient({ caCerts: [server.certificatePem] });
  try {
    const response = await fetch(`${server.url}/readyz`, { client: http });
    await response.text();
    return response.status;
  } finally {
    http.close();
  }
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name: `cluster: live and offline delivery across two instances${suffix}`,
  ignore: !available,
  async fn() {
    const cluster = await startCluster();
    try {
      const { x, phone, y } = await pairAcross(cluster, 31);
      await x.send(31, "A to B, live");
      assert.equal(fromUtf8((await y.next())!.payload), "A to B, live");
      await y.send(31, "B to A, live");
      assert.equal(fromUtf8((await x.next())!.payload), "B to A, live");

      y.close();
      await y.finished;
      for (let i = 0; i < 5; i++) await x.send(31, `offline ${i}`);
      // The offline device comes back on the OTHER instance and drains its queue there.
      const y2 = await connectSecond(cluster.a, phone);
      for (let i = 0; i < 5; i++) {
        assert.equal(fromUtf8((await y2.next())!.payload), `offline ${i}`);
      }
      x.close();
      y2.close();
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: `cluster: Redis restarted during traffic loses nothing acked${suffix}`,
  ignore: !available,
  async fn() {
    const cluster = await startCluster();
    try {
      const { x, y } = await pairAcross(cluster, 32);
      await x.send(32, "before");
      assert.equal(fromUtf8((await y.next())!.payload), "before");

      await cluster.redis.stop();
      await eventually(async () => (await readyz(cluster.a)) === 503, "readyz degraded on A");
      for (let i = 0; i < 5; i++) await x.send(32, `during ${i}`); // acked: stored in PostgreSQL
      // Without the bus, B still finds them by polling the queue.
      for (let i = 0; i < 5; i++) assert.equal(fromUtf8((await y.next())!.payload), `during ${i}`);

      await cluster.redis.start();
      await eventually(async () => (await readyz(cluster.a)) === 200, "readyz ready on A again");
      await eventually(async () => (await readyz(cluster.b)) === 200, "readyz ready on B again");
      await x.send(32, "after");
      assert.equal(fromUtf8((await y.next())!.payload), "after");
      x.close();
      y.close();
    } finally {
      await cluster.close();
    }
  },
});

Deno.test({
  name: `cluster: PostgreSQL restarted during traffic loses nothing acked${suffix}`,
  ignore: !available,
  async fn() {
    const cluster = await startCluster();
    try {
      const { x, phone, y } = await pairAcross(cluster, 33);
      y.close();
      await y.finished;
      const acked: string[] = [];
      for (let i = 0; i < 5; i++) {
        await x.send(33, `m${i}`);
        acked.push(`m${i}`);
      }
      await cluster.pg.stop();
      // While PostgreSQL is down a new handshake gets a clear Error; sends to
      // an offline device are refused (not acked) rather than lost.
      await assert.rejects(
        CommuCatClient.connect(connectOptions(cluster.b, newDevice("late"))),
        (e: unknown) => e instanceof ServerError && /storage unavailable/.test(e.message),
      );
      const refused = await x.send(33, "while down").then(() => false, () => true);
      if (!refused) acked.push("while down");
      await cluster.pg.start();
      await eventually(async () => (await readyz(cluster.b)) === 200, "readyz ready on B again");
      await eventually(async () => {
        await x.send(33, "after restart");
        return true;
      }, "a send to succeed after the restart");
      acked.push("after restart");
      const y2 = await connectSecond(cluster.b, phone);
      const got: string[] = [];
      while (got.length < acked.length) got.push(fromUtf8((await y2.next())!.payload));
      assert.deepEqual(got.filter((m) => acked.includes(m)), acked);
      x.close();
      y2.close();
    } finally {
      await cluster.close();
    }
  },
});
