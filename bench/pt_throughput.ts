/**
 * Bulk throughput through the pluggable-transport listener with obfs4proxy on
 * both sides, against the direct TLS listener, in one run (ratios are what
 * carry over between machines). Each path moves `MB` megabytes down (a
 * streamed response) and up (a request body) over HTTP/1.1 in TLS:
 *
 * - direct TLS: client → TcpListener (the server's `server.bind` path);
 * - obfs4: client → obfs4proxy client (SOCKS5) → obfs4proxy server →
 *   Extended ORPort → PtListener → the same engine and TLS;
 * - obfs4 iat-mode=1 (inter-arrival-time obfuscation), with a smaller amount;
 * - raw obfs4: the two obfs4proxy children alone (no TLS, no HTTP, our
 *   Extended ORPort end counting bytes): what obfs4proxy itself costs.
 *
 *   scripts/deno run --allow-net --allow-read --allow-write --allow-env \
 *     --allow-run=obfs4proxy bench/pt_throughput.ts [MB] [iat-MB]
 *
 * docs/PERFORMANCE.md has the figures.
 */
import { PtClientTransport } from "../src/client/transports/mod.ts";
import { silentLogger } from "../src/log/mod.ts";
import { generateSelfSignedCertificate } from "../src/security/tls/mod.ts";
import { type ConnectionSink, type Listener, UNCOUNTED_SLOT } from "../src/transport/listener.ts";
import {
  acceptExtOrPort,
  formatPtArgs,
  ManagedTransport,
  PtListener,
  socksCredentials,
  writeAuthCookie,
} from "../src/transport/pt/mod.ts";
import { TcpListener } from "../src/transport/tls_tcp.ts";

const MB = Number(Deno.args[0] ?? 64);
const IAT_MB = Number(Deno.args[1] ?? 1);
const CHUNK = new Uint8Array(64 * 1024).fill(0x5a);

/** Streams `bytes` bytes down; counts a request body up. */
const sink: ConnectionSink = {
  async handle(request) {
    const url = new URL(request.url);
    if (request.method === "POST") {
      let n = 0;
      for await (const c of request.body!) n += c.length;
      return new Response(String(n));
    }
    let left = Number(url.searchParams.get("bytes"));
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (left <= 0) return controller.close();
          const c = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= c.length;
          controller.enqueue(c);
        },
      }),
    );
  },
};

const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** MB/s down and up through `base` with `client`: the median of {@link ROUNDS} rounds. */
async function measure(base: string, client: Deno.HttpClient, mb: number) {
  const runs = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(await measureOnce(base, client, mb));
  return { down: median(runs.map((r) => r.down)), up: median(runs.map((r) => r.up)) };
}

async function measureOnce(base: string, client: Deno.HttpClient, mb: number) {
  const bytes = mb * 1024 * 1024;
  // One small request first: TLS and (for obfs4) the tunnel are set up outside the timing.
  await (await fetch(`${base}/warm?bytes=1`, { client })).arrayBuffer();
  let t = performance.now();
  const down = await fetch(`${base}/down?bytes=${bytes}`, { client });
  let got = 0;
  for await (const c of down.body!) got += c.length;
  const downS = (performance.now() - t) / 1000;
  if (got !== bytes) throw new Error(`downloaded ${got} of ${bytes}`);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const c = bytes - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, bytes - sent);
      sent += c.length;
      controller.enqueue(c);
    },
  });
  t = performance.now();
  const up = await fetch(`${base}/up`, { method: "POST", body, client });
  const counted = Number(await up.text());
  const upS = (performance.now() - t) / 1000;
  if (counted !== bytes) throw new Error(`uploaded ${counted} of ${bytes}`);
  return { down: mb / downS, up: mb / upS };
}

/** The two obfs4proxy children alone: bytes up through SOCKS5, counted at our Extended ORPort. */
async function rawObfs4(mb: number, dir: string): Promise<number> {
  const bytes = mb * 1024 * 1024;
  await Deno.mkdir(dir, { recursive: true });
  const cookie = await writeAuthCookie(`${dir}/cookie`);
  const ext = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const counted = (async () => {
    const conn = await ext.accept();
    const hello = await acceptExtOrPort(conn, cookie);
    await hello.reply(true);
    let n = hello.leftover.length;
    const buf = new Uint8Array(256 * 1024);
    for (let r; n < bytes && (r = await conn.read(buf)) !== null;) n += r;
    await conn.write(new Uint8Array([1]));
    conn.close();
    return n;
  })();
  const server = await ManagedTransport.start({
    binary: "obfs4proxy",
    transport: "obfs4",
    stateDir: `${dir}/server`,
    configKey: "bench",
    log: silentLogger,
    side: {
      role: "server",
      bind: { hostname: "127.0.0.1", port: 0 },
      extendedOrPort: { hostname: "127.0.0.1", port: (ext.addr as Deno.NetAddr).port },
      authCookieFile: `${dir}/cookie`,
    },
  });
  const client = await ManagedTransport.start({
    binary: "obfs4proxy",
    transport: "obfs4",
    stateDir: `${dir}/client`,
    configKey: "bench",
    log: silentLogger,
    side: { role: "client" },
  });
  try {
    const socks = await Deno.connect(client.method.address);
    const read = async (n: number) => {
      const out = new Uint8Array(n);
      for (let off = 0; off < n;) {
        const r = await socks.read(out.subarray(off));
        if (r === null) throw new Error("SOCKS closed");
        off += r;
      }
      return out;
    };
    const { username, password } = socksCredentials(formatPtArgs(server.method.args));
    const u = new TextEncoder().encode(username);
    const p = new TextEncoder().encode(password);
    await socks.write(new Uint8Array([5, 1, 2]));
    await read(2);
    await socks.write(new Uint8Array([1, u.length, ...u, p.length, ...p]));
    if ((await read(2))[1] !== 0) throw new Error("SOCKS auth refused");
    const port = server.method.address.port;
    await socks.write(new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]));
    if ((await read(10))[1] !== 0) throw new Error("SOCKS connect refused");
    const t = performance.now();
    for (let sent = 0; sent < bytes; sent += CHUNK.length) {
      for (let off = 0; off < CHUNK.length;) off += await socks.write(CHUNK.subarray(off));
    }
    await read(1);
    const s = (performance.now() - t) / 1000;
    socks.close();
    if ((await counted) < bytes) throw new Error("raw obfs4: bytes missing");
    return mb / s;
  } finally {
    ext.close();
    await client.stop();
    await server.stop();
  }
}

const dir = await Deno.makeTempDir({ prefix: "commucat-pt-bench-" });
const cert = await generateSelfSignedCertificate({
  commonName: "localhost",
  dnsNames: ["localhost"],
  ipAddresses: ["127.0.0.1"],
});
const tls = { cert: cert.certPem, key: cert.keyPem };
const common = {
  tls,
  firstRequestTimeoutMs: 60_000,
  admit: () => UNCOUNTED_SLOT,
  log: silentLogger,
};
const listeners: Listener[] = [];
const rows: [string, { down: number; up: number }][] = [];
try {
  const direct = new TcpListener({ ...common, configKey: "bench", hostname: "127.0.0.1", port: 0 });
  listeners.push(direct);
  direct.start(sink);
  const directClient = Deno.createHttpClient({ caCerts: [cert.certPem], http2: false });
  rows.push([
    "direct TLS",
    await measure(`https://127.0.0.1:${direct.addr.port}`, directClient, MB),
  ]);
  directClient.close();

  for (
    const [name, options, mb] of [["obfs4 (iat-mode=0)", undefined, MB], [
      "obfs4 (iat-mode=1)",
      "iat-mode=1",
      IAT_MB,
    ]] as const
  ) {
    const pt = await PtListener.open({
      ...common,
      configKey: "bench",
      binary: "obfs4proxy",
      transport: "obfs4",
      bind: { hostname: "127.0.0.1", port: 0 },
      stateDir: `${dir}/${options ?? "iat0"}`,
      serverOptions: options,
    });
    listeners.push(pt);
    pt.start(sink);
    const route = await new PtClientTransport({
      host: "127.0.0.1",
      port: pt.addr.port,
      args: formatPtArgs(pt.bridgeArgs),
    }).open({
      url: "https://127.0.0.1",
      caCerts: [cert.certPem],
      signal: new AbortController().signal,
    });
    try {
      rows.push([`${name}, ${mb} MB`, await measure(route.url, route.httpClient!, mb)]);
    } finally {
      await route.close();
    }
  }
  const raws = [];
  for (let i = 0; i < ROUNDS; i++) raws.push(await rawObfs4(MB, `${dir}/raw${i}`));
  const raw = median(raws);
  rows.push(["raw obfs4proxy pair (up only, no TLS/HTTP)", { down: NaN, up: raw }]);
} finally {
  for (const l of listeners) await l.shutdown();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

const base = rows[0][1];
console.log(`| path | down MB/s | up MB/s | down vs direct | up vs direct |`);
console.log(`| --- | ---: | ---: | ---: | ---: |`);
for (const [name, r] of rows) {
  const f = (x: number) => Number.isNaN(x) ? "–" : x.toFixed(2);
  const ratio = (x: number, b: number) => Number.isNaN(x) ? "–" : `${(100 * x / b).toFixed(1)}%`;
  console.log(
    `| ${name} | ${f(r.down)} | ${f(r.up)} | ${ratio(r.down, base.down)} | ${
      ratio(r.up, base.up)
    } |`,
  );
}
