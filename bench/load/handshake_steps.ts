/**
 * Server CPU of each step of a new-device XK handshake, in this process and
 * without any network: `ServerHandshake` on a real SQLite store (a file in a
 * temp directory, WAL, as the server opens it), the clients' side made
 * before the clock starts where it can be. What `bench load` cannot split:
 * the Hello (parse, key proof, Noise message 1, identity reads, message 2),
 * the client's Auth (message 3), the commit (the transaction, certificate,
 * Ack) and the Ack's first transport message, each in CPU-µs per handshake.
 *
 *   scripts/deno run --allow-all bench/load/handshake_steps.ts [--handshakes 2000] [--rounds 3]
 *     [--cpuprofile FILE]
 *
 * `--cpuprofile` writes a V8 CPU profile of the measured rounds (inspector
 * attached: the step figures then read high; use the profile for shares).
 *
 * @module
 */
import { Session } from "node:inspector";
import process from "node:process";
import { fakeHello, fakeServer } from "../../src/session/_handshake_fakes.ts";
import { ServerHandshake } from "../../src/session/handshake.ts";
import { controlFrame, decodeFrame, encodeFrame, FrameType } from "../../src/proto/mod.ts";
import { fromHex, toHex } from "../../src/crypto/mod.ts";
import { openSqliteStore } from "../../src/storage/mod.ts";
import { measureHandshakePrimitives } from "./primitives.ts";

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

/** CPU-µs per handshake of each step, over `count` new devices. */
async function round(
  count: number,
  server: ReturnType<typeof fakeServer>,
  serial: { n: number },
): Promise<Record<string, number>> {
  const clients = Array.from({ length: count }, () => {
    const n = ++serial.n;
    return fakeHello(server.serverStatic, {
      deviceId: `dev-${n}`,
      seed: crypto.getRandomValues(new Uint8Array(32)),
      user: { handle: `user${n}` },
      now: server.clock.now,
    });
  });
  const spent = { hello: 0, auth: 0, commit: 0, ack: 0 };
  for (const client of clients) {
    const handshake = new ServerHandshake(server.deps);
    let t = cpuMicros();
    const auth = await handshake.hello(client.frame);
    spent.hello += cpuMicros() - t;
    const reply = JSON.parse(new TextDecoder().decode(auth.payload));
    client.noise.readMessage(fromHex(reply.handshake));
    const msg3 = encodeFrame(
      controlFrame(FrameType.Auth, 0, 2, { handshake: toHex(client.noise.writeMessage()) }),
    );
    t = cpuMicros();
    handshake.auth(decodeFrame(msg3)!.frame);
    spent.auth += cpuMicros() - t;
    t = cpuMicros();
    const established = await handshake.commit();
    spent.commit += cpuMicros() - t;
    t = cpuMicros();
    established.transport.encrypt(encodeFrame(established.ack));
    spent.ack += cpuMicros() - t;
  }
  const per: Record<string, number> = {};
  let total = 0;
  for (const [step, us] of Object.entries(spent)) {
    per[step] = us / count;
    total += us;
  }
  per.total = total / count;
  return per;
}

/** A V8 CPU profiler on this process (`stop` returns the profile). */
async function startProfiler(): Promise<{ stop(): Promise<unknown> }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => error ? reject(error) : resolve(result))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
  return {
    stop: async () => {
      const { profile } = await post("Profiler.stop") as { profile: unknown };
      session.disconnect();
      return profile;
    },
  };
}

if (import.meta.main) {
  const count = Number(arg("handshakes", "2000"));
  const rounds = Number(arg("rounds", "3"));
  const dir = await Deno.makeTempDir({ prefix: "commucat-steps-" });
  try {
    const store = await openSqliteStore(`${dir}/commucat.db`, { createIfNew: true });
    const server = fakeServer({ store, now: () => Date.now() });
    server.clock.now = Date.now();
    const serial = { n: 0 };
    await round(Math.min(200, count), server, serial); // warm-up: JIT, first pages
    const profileTo = arg("cpuprofile", "");
    const profiler = profileTo ? await startProfiler() : null;
    const results: Record<string, number>[] = [];
    for (let r = 0; r < rounds; r++) results.push(await round(count, server, serial));
    if (profiler) await Deno.writeTextFile(profileTo, JSON.stringify(await profiler.stop()));
    const steps = Object.keys(results[0]);
    const best = (step: string) => Math.min(...results.map((r) => r[step]));
    console.log(`| step | CPU-µs per handshake (best of ${rounds} × ${count}) |`);
    console.log("| --- | --- |");
    for (const step of steps) console.log(`| ${step} | ${best(step).toFixed(1)} |`);
    const bound = measureHandshakePrimitives();
    console.log(
      `\nbound ${bound.handshakeUs.toFixed(1)} µs (DH ${bound.x25519DhUs.toFixed(1)}, ZKP ${
        bound.zkpVerifyUs.toFixed(1)
      }, certificate ${bound.certificateIssueUs.toFixed(1)}); ours beyond it ${
        (best("total") - bound.handshakeUs).toFixed(1)
      } µs`,
    );
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
