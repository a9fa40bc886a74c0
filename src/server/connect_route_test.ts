import assert from "node:assert/strict";
import { RateLimits, TrustedProxies } from "../security/ratelimit/mod.ts";
import type { ConnectHandlerOptions } from "./connect.ts";
import { connectRoute, rawPathOf } from "./connect_route.ts";

const info = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo;

function route(options: { stopping?: boolean; connectBurst?: number; admit?: () => boolean }) {
  const errors: Record<string, unknown>[] = [];
  const rule = (burst: number) => ({ burst, windowMs: 60_000, penaltyMs: 0 });
  const limits = new RateLimits({
    http: rule(100),
    connect: rule(options.connectBurst ?? 100),
    pairing: rule(100),
  });
  const handle = connectRoute({
    state: { stopping: options.stopping ?? false },
    // The handshake gate is the handler's first step: refusing there ends the request early.
    connect: {
      deps: {},
      keepaliveMs: 1_000,
      track() {},
      admit: options.admit ?? (() => false),
    } as unknown as ConnectHandlerOptions,
    limits,
    trusted: TrustedProxies.none,
    log: {
      debug() {},
      info() {},
      warn() {},
      error: (_message, properties) => errors.push(properties ?? {}),
    },
  }, new Set(["/connect", "/ws-alias"]));
  return { handle, errors };
}

const upgrade = (url: string) =>
  new Request(url, { headers: { upgrade: "websocket", connection: "Upgrade" } });

Deno.test("rawPathOf: the pathname of serialized URLs", () => {
  for (
    const url of [
      "https://h:8443/connect",
      "https://h/connect?mode=sse&attach=1",
      "http://h/connect#x",
      "http://h/a?b/c",
      "http://h/%63onnect",
      "http://h/connect/",
      "http://h",
      "http://[::1]:80/p/q?x#y",
    ]
  ) {
    assert.equal(rawPathOf(url), new URL(url).pathname, url);
  }
});

Deno.test("connect route: other paths and other spellings are left to the app", () => {
  const { handle } = route({});
  for (const path of ["/api/x", "/connect/", "/%63onnect", "/connectx", "/"]) {
    assert.equal(handle(upgrade(`https://h${path}`), info), null, path);
  }
  // A request target the URL parser normalizes is routed by the app, which sees `/connect`.
  const dotted = { url: "https://h/./connect", headers: new Headers() } as Request;
  assert.equal(handle(dotted, info), null);
  const handled = handle(upgrade("https://h/ws-alias?mode=websocket"), info);
  assert.equal(handled?.status, 503, "the alias is a connect path");
});

Deno.test("connect route: 503 problem while stopping, before the rate limit counts", async () => {
  const { handle } = route({ stopping: true, connectBurst: 1 });
  for (let i = 0; i < 3; i++) {
    const response = handle(upgrade("https://h/connect"), info)!;
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("content-type"), "application/problem+json");
    assert.equal((await response.json()).detail, "server is shutting down");
  }
});

Deno.test("connect route: the connect budget answers 429 problem+json with Retry-After", async () => {
  const { handle } = route({ connectBurst: 2 });
  for (let i = 0; i < 2; i++) {
    const passed = handle(upgrade("https://h/connect"), info)!;
    assert.equal((await passed.json()).detail, "too many handshakes in flight; retry after 1 s");
  }
  const refused = handle(upgrade("https://h/connect"), info)!;
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("content-type"), "application/problem+json");
  assert.ok(Number(refused.headers.get("retry-after")) >= 1);
  await refused.body?.cancel();
});

Deno.test("connect route: a thrown error is a logged 500 with its request id", async () => {
  const { handle, errors } = route({
    admit: () => {
      throw new Error("boom");
    },
  });
  const response = handle(upgrade("https://h/connect"), info)!;
  assert.equal(response.status, 500);
  const id = response.headers.get("x-request-id");
  assert.ok(id);
  assert.equal((await response.json()).request_id, id);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].request, id);
  assert.equal(errors[0].path, "/connect");
  assert.match(String(errors[0].error), /boom/);
});
