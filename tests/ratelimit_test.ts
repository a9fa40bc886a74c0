/**
 * Rate limiting on the wire: a tiny `Deno.serve` on port 0 built from the
 * security pieces alone (not the CommuCat server), driven by real fetches,
 * to prove status, headers and body of refusals as a client sees them. The
 * limiter runs on a virtual clock so nothing depends on timing.
 */
import assert from "node:assert/strict";
import {
  clientIp,
  HandshakeGate,
  rateLimitKey,
  RateLimits,
  tooManyHandshakes,
  tooManyRequests,
} from "../src/security/ratelimit/mod.ts";

interface Served {
  readonly url: string;
  close(): Promise<void>;
}

function serve(handler: Deno.ServeHandler): Served {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const { port } = server.addr as Deno.NetAddr;
  return { url: `http://127.0.0.1:${port}`, close: () => server.shutdown() };
}

function limitedServer(trustedProxies: readonly string[]) {
  let now = 0;
  const limits = new RateLimits({
    http: { burst: 2, windowMs: 1_000, penaltyMs: 2_500 },
    connect: { burst: 1, windowMs: 1_000, penaltyMs: 0 },
    pairing: { burst: 1, windowMs: 60_000, penaltyMs: 120_000 },
  }, { now: () => now });
  const served = serve((request, info) => {
    const ip = clientIp(request, info, trustedProxies);
    const decision = limits.check("http", rateLimitKey(ip));
    if (!decision.allowed) return tooManyRequests(decision.retryAfterMs);
    return new Response("ok", { headers: { "x-client-ip": ip } });
  });
  return { ...served, advance: (ms: number) => (now += ms) };
}

async function get(url: string, forwardedFor?: string): Promise<Response> {
  const headers = forwardedFor ? { "x-forwarded-for": forwardedFor } : undefined;
  return await fetch(url, { headers });
}

Deno.test("wire: 429 problem+json with Retry-After once the burst is spent", async () => {
  const server = limitedServer([]);
  try {
    for (let i = 0; i < 2; i++) {
      const ok = await get(server.url);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("x-client-ip"), "127.0.0.1", "the IP, not ip:port");
      await ok.body?.cancel();
    }
    const denied = await get(server.url);
    assert.equal(denied.status, 429);
    assert.equal(denied.headers.get("content-type"), "application/problem+json");
    assert.equal(denied.headers.get("retry-after"), "3", "2.5 s rounds up");
    assert.deepEqual(await denied.json(), {
      type: "about:blank",
      title: "Too Many Requests",
      status: 429,
      detail: "rate limit exceeded; retry after 3 s",
    });
    server.advance(1_000);
    const still = await get(server.url);
    assert.equal(still.headers.get("retry-after"), "2", "1.5 s left of the block");
    await still.body?.cancel();
    server.advance(1_500);
    const again = await get(server.url);
    assert.equal(again.status, 200, "allowed again after the penalty");
    await again.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("wire: a spoofed X-Forwarded-For from an untrusted peer buys no budget", async () => {
  const server = limitedServer([]);
  try {
    const statuses: number[] = [];
    for (const spoof of ["1.1.1.1", "2.2.2.2", "3.3.3.3"]) {
      const response = await get(server.url, spoof);
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses, [200, 200, 429]);
  } finally {
    await server.close();
  }
});

Deno.test("wire: behind a trusted proxy, each forwarded client has its own budget", async () => {
  const server = limitedServer(["127.0.0.1"]);
  try {
    const seen: string[] = [];
    for (const client of ["198.51.100.1", "198.51.100.1", "198.51.100.2"]) {
      const response = await get(server.url, `6.6.6.6, ${client}`);
      assert.equal(response.status, 200);
      seen.push(response.headers.get("x-client-ip")!);
      await response.body?.cancel();
    }
    assert.deepEqual(seen, ["198.51.100.1", "198.51.100.1", "198.51.100.2"]);
    const denied = await get(server.url, "198.51.100.1");
    assert.equal(denied.status, 429);
    await denied.body?.cancel();
  } finally {
    await server.close();
  }
});

Deno.test("wire: the handshake gate refuses at once past its cap and admits after release", async () => {
  const gate = new HandshakeGate(1);
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  let finish!: () => void;
  const finishing = new Promise<void>((resolve) => (finish = resolve));
  const server = serve(async () => {
    const release = gate.tryEnter();
    if (!release) return tooManyHandshakes();
    try {
      entered();
      await finishing;
      return new Response("handshake done");
    } finally {
      release();
    }
  });
  try {
    const first = get(server.url);
    await inside;
    const refused = await get(server.url);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal(refused.headers.get("content-type"), "application/problem+json");
    assert.equal((await refused.json()).detail, "too many handshakes in flight; retry after 1 s");
    finish();
    assert.equal(await (await first).text(), "handshake done");
    const admitted = await get(server.url);
    assert.equal(admitted.status, 200);
    await admitted.body?.cancel();
    assert.deepEqual(gate.stats(), { inFlight: 0, admitted: 2, denied: 1, hybridDenied: 0 });
  } finally {
    await server.close();
  }
});
