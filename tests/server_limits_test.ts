/**
 * Rate limits and the handshake cap on the real server over HTTPS: per
 * client IP (not per socket), 429 problem+json with Retry-After, and
 * handshakes past the cap refused at once.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { RawConnection } from "./helpers/raw.ts";

const SLOW = { windowMs: 60_000, penaltyMs: 60_000 };
const OPEN = { burst: 1_000_000, windowMs: 1_000, penaltyMs: 0 };

async function get(srv: TestServer, path: string, init: RequestInit = {}) {
  const client = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
  try {
    const response = await fetch(`${srv.url}${path}`, { ...init, client });
    const body = await response.text();
    return { status: response.status, headers: response.headers, body };
  } finally {
    client.close();
  }
}

Deno.test("http limit: burst then 429 problem+json with Retry-After, for every socket of the IP", async () => {
  const srv = await startTestServer({
    rateLimits: { http: { burst: 3, ...SLOW }, connect: OPEN, pairing: OPEN },
  });
  try {
    // Each get() opens a new TLS connection (new source port): the key is the IP.
    for (let i = 0; i < 3; i++) assert.equal((await get(srv, "/healthz")).status, 200);
    const limited = await get(srv, "/healthz", { headers: { "x-forwarded-for": "203.0.113.9" } });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("content-type"), "application/problem+json");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    assert.equal(JSON.parse(limited.body).status, 429);
  } finally {
    await srv.stop();
  }
});

Deno.test("connect limit applies to /connect only; pairing claims have their own bucket", async () => {
  const srv = await startTestServer({
    rateLimits: { http: OPEN, connect: { burst: 2, ...SLOW }, pairing: { burst: 1, ...SLOW } },
  });
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice()));
    const b = await CommuCatClient.connect(connectOptions(srv, newDevice()));
    await assert.rejects(CommuCatClient.connect(connectOptions(srv, newDevice())), /429/);
    assert.equal((await get(srv, "/api/server-info")).status, 200, "REST is another bucket");
    const claim = (code: string) =>
      get(srv, "/api/pair/claim", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pair_code: code }),
      });
    assert.equal((await claim("AAAA-AAAA")).status, 404);
    assert.equal((await claim("BBBB-BBBB")).status, 429);
    a.close();
    b.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("handshake cap: past it new handshakes are refused at once (503), then admitted again", async () => {
  const srv = await startTestServer({ maxHandshakesInFlight: 1, handshakeTimeoutMs: 60_000 });
  try {
    const idle = await RawConnection.open(srv); // holds the only slot: never sends a Hello
    await assert.rejects(CommuCatClient.connect(connectOptions(srv, newDevice())), /503/);
    idle.close();
    let connected: CommuCatClient | null = null;
    for (let i = 0; i < 50 && !connected; i++) {
      connected = await CommuCatClient.connect(connectOptions(srv, newDevice())).catch(() => null);
      if (!connected) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(connected, "a slot frees up once the idle connection is gone");
    connected.close();
  } finally {
    await srv.stop();
  }
});

Deno.test("a busy address: start-up fails naming the address and server.bind, nothing left open", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      startTestServer({ port: busy.addr.port }),
      new RegExp(
        `^ListenError: cannot listen on 127\\.0\\.0\\.1:${busy.addr.port} \\(server\\.bind\\): ` +
          "address already in use$",
      ),
    );
  } finally {
    busy.close();
  }
});
