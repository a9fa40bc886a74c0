/**
 * Server CPU of routing one `/connect` WebSocket upgrade, in this process:
 * the Hono app with its middleware (what every request took before) against
 * the `/connect` route in front of it (`src/server/connect_route.ts`), each
 * up to the handler's handshake gate, which refuses here (503) the same way in
 * both: the difference is the routing. Deterministic enough
 * to run under `valgrind --tool=callgrind` with `--only hono|route`.
 *
 *   scripts/deno run --allow-all bench/connect_route.ts [--requests 20000] [--rounds 10]
 *     [--only hono|route]
 *
 * @module
 */
import process from "node:process";
import { createHttpApp, honoApp, type HttpParts } from "../src/server/http_app.ts";
import { RateLimits, TrustedProxies } from "../src/security/ratelimit/mod.ts";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

const unlimited = { burst: 1e9, windowMs: 1_000, penaltyMs: 0 };
const silent = { debug() {}, info() {}, warn() {}, error() {} };
/** Only what the `/connect` path reads; the rest of the app is never reached. */
const parts = {
  state: { stopping: false, startedAt: 0 },
  // The handshake gate refuses: the request ends in the handler before any session exists.
  connect: { deps: {}, keepaliveMs: 15_000, track() {}, admit: () => false },
  limits: new RateLimits({ http: unlimited, connect: unlimited, pairing: unlimited }),
  trusted: TrustedProxies.none,
  log: silent,
  web: null,
} as unknown as HttpParts;
const info = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;
const headers = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

async function run(fetch: HttpFetch, count: number): Promise<number> {
  const requests = Array.from(
    { length: count },
    () => new Request("https://127.0.0.1:8443/connect", { headers }),
  );
  const start = cpuMicros();
  for (const request of requests) {
    const response = await fetch(request, info);
    if (response.status !== 503) throw new Error(`unexpected ${response.status}`);
  }
  return (cpuMicros() - start) / count;
}

type HttpFetch = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

if (import.meta.main) {
  const count = Number(arg("requests", "20000"));
  const rounds = Number(arg("rounds", "10"));
  const only = arg("only", "");
  const hono = honoApp(parts, ["/connect"]);
  const route = createHttpApp(parts);
  const kinds: [string, HttpFetch][] = [
    ["hono", (r, i) => hono.fetch(r, i)],
    ["route", (r, i) => route.fetch(r, i)],
  ];
  const chosen = kinds.filter(([name]) => only === "" || name === only);
  for (const [, fetch] of chosen) await run(fetch, Math.min(2000, count)); // warm-up
  const results = new Map<string, number[]>(chosen.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    // Alternating which goes first, so neither gains from the other's warm-up.
    const order = r % 2 === 0 ? chosen : [...chosen].reverse();
    for (const [name, fetch] of order) results.get(name)!.push(await run(fetch, count));
  }
  for (const [name, us] of results) {
    const sorted = [...us].sort((a, b) => a - b);
    console.log(
      `${name}: median ${sorted[sorted.length >> 1].toFixed(2)} CPU-µs per request (${
        us.map((u) => u.toFixed(1)).join(" ")
      })`,
    );
  }
}
