import assert from "node:assert/strict";
import { problem } from "../http/mod.ts";
import { P2pRelay, type RelayIdentity, type RelayOptions, type RelayOutcome } from "./mod.ts";

/** Tokens of the test devices; alice-1 and bob-1 may talk, mallory-1 may talk to anyone. */
const TOKENS: Record<string, RelayIdentity> = {
  "token-alice": { deviceId: "alice-1", userId: "alice" },
  "token-bob": { deviceId: "bob-1", userId: "bob" },
  "token-mallory": { deviceId: "mallory-1", userId: "mallory" },
  "token-carol": { deviceId: "carol-1", userId: "carol" },
};
const SESSION = "relay-session-0123456789";

interface World {
  url: string;
  relay: P2pRelay;
  outcomes: RelayOutcome[];
  relayed: number[];
  close(): Promise<void>;
}

function world(options: Partial<RelayOptions> = {}): World {
  const outcomes: RelayOutcome[] = [];
  const relayed: number[] = [];
  const relay = new P2pRelay({
    authenticate: (request) => {
      const token = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
      const who = TOKENS[token];
      return Promise.resolve(who ?? problem(401, "session not found or expired"));
    },
    // carol may talk to nobody; everyone else to anyone.
    mayPair: (a, b) => Promise.resolve(a.deviceId !== "carol-1" && b !== "carol-1"),
    observer: { ended: (o) => outcomes.push(o), relayed: (n) => relayed.push(n) },
    ...options,
  });
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => relay.handle(request),
  );
  return {
    url: `ws://127.0.0.1:${server.addr.port}/p2p`,
    relay,
    outcomes,
    relayed,
    async close() {
      relay.shutdown();
      await server.shutdown();
    },
  };
}

/** A client socket with its messages queued and its close awaited. */
class Client {
  readonly ws: WebSocket;
  wasOpen = false;
  readonly #queue: (string | ArrayBuffer)[] = [];
  readonly #waiters: ((m: string | ArrayBuffer) => void)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, token?: string) {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    this.ws = new WebSocket(url, { headers } as unknown as string[]);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve) => {
      this.ws.onopen = () => {
        this.wasOpen = true;
        resolve();
      };
    });
    this.closed = new Promise((resolve) => {
      this.ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
    });
    this.ws.onerror = () => {};
    this.ws.onmessage = (e) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(e.data);
      else this.#queue.push(e.data);
    };
  }

  next(): Promise<string | ArrayBuffer> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async hello(peer: string, sessionId = SESSION): Promise<void> {
    await this.opened;
    this.ws.send(JSON.stringify({ session_id: sessionId, peer }));
  }
}

async function pair(w: World): Promise<[Client, Client]> {
  const alice = new Client(w.url, "token-alice");
  await alice.hello("bob-1");
  assert.deepEqual(JSON.parse(await alice.next() as string), { status: "waiting" });
  const bob = new Client(w.url, "token-bob");
  await bob.hello("alice-1");
  assert.deepEqual(JSON.parse(await alice.next() as string), { status: "paired", peer: "bob-1" });
  assert.deepEqual(JSON.parse(await bob.next() as string), { status: "paired", peer: "alice-1" });
  return [alice, bob];
}

Deno.test("p2p relay: two authenticated peers are paired and relayed verbatim, both ways", async () => {
  const w = world();
  try {
    const [alice, bob] = await pair(w);
    alice.ws.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual(new Uint8Array(await bob.next() as ArrayBuffer), new Uint8Array([1, 2, 3]));
    bob.ws.send("hello alice");
    assert.equal(await alice.next(), "hello alice");
    assert.deepEqual(w.relayed, [3, 11]);
    assert.equal(w.relay.paired, 1);
    // One side leaves: the other is told and the session is gone.
    alice.ws.close();
    assert.equal((await bob.closed).code, 1000);
    await alice.closed;
    assert.equal(w.relay.paired + w.relay.waiting, 0);
  } finally {
    await w.close();
  }
});

Deno.test("p2p relay: unauthenticated and forged tokens are refused before the upgrade", async () => {
  const w = world();
  try {
    const http = w.url.replace("ws:", "http:");
    const headers = { upgrade: "websocket", connection: "Upgrade" };
    for (const auth of [undefined, "Bearer forged-token"]) {
      const response = await fetch(http, {
        headers: auth ? { ...headers, authorization: auth } : headers,
      });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get("content-type"), "application/problem+json");
      await response.body?.cancel();
    }
    const plain = await fetch(http);
    assert.equal(plain.status, 426);
    await plain.body?.cancel();
    const forged = new Client(w.url, "forged");
    await forged.closed;
    assert.equal(forged.wasOpen, false, "no WebSocket for a forged token");
  } finally {
    await w.close();
  }
});

Deno.test("p2p relay: a third party can neither join a waiting session nor a paired one", async () => {
  const w = world();
  try {
    const alice = new Client(w.url, "token-alice");
    await alice.hello("bob-1");
    await alice.next();
    // mallory knows the session id and claims to be the awaited peer: she is not bob-1.
    const mallory = new Client(w.url, "token-mallory");
    await mallory.hello("alice-1");
    assert.deepEqual(await mallory.closed, { code: 4403, reason: "session is taken" });
    // bob naming someone else than alice is refused too.
    const confused = new Client(w.url, "token-bob");
    await confused.hello("mallory-1");
    assert.equal((await confused.closed).code, 4403);
    const bob = new Client(w.url, "token-bob");
    await bob.hello("alice-1");
    await alice.next();
    await bob.next();
    const late = new Client(w.url, "token-mallory");
    await late.hello("alice-1");
    assert.equal((await late.closed).code, 4403);
    // The pair still works.
    alice.ws.send("still here");
    assert.equal(await bob.next(), "still here");
    assert.deepEqual(w.outcomes, ["third_party", "third_party", "third_party"]);
    alice.ws.close();
    await bob.closed;
  } finally {
    await w.close();
  }
});

Deno.test("p2p relay: devices that may not talk, the same device twice and bad hellos are refused", async () => {
  const w = world();
  try {
    const carol = new Client(w.url, "token-carol");
    await carol.hello("alice-1");
    assert.deepEqual(await carol.closed, {
      code: 4403,
      reason: "not allowed to relay to that device",
    });
    const alice = new Client(w.url, "token-alice");
    await alice.hello("bob-1");
    await alice.next();
    const again = new Client(w.url, "token-alice");
    await again.hello("bob-1");
    assert.equal((await again.closed).code, 4409);
    for (
      const hello of [
        "not json",
        '{"session_id":"short","peer":"bob-1"}',
        '{"session_id":"' + "x".repeat(20) + '"}',
      ]
    ) {
      const c = new Client(w.url, "token-bob");
      await c.opened;
      c.ws.send(hello);
      assert.equal((await c.closed).code, 4400, hello);
    }
    const binary = new Client(w.url, "token-bob");
    await binary.opened;
    binary.ws.send(new Uint8Array([1]));
    assert.equal((await binary.closed).code, 4400);
    const self = new Client(w.url, "token-bob");
    await self.hello("bob-1", "another-session-01234");
    assert.equal((await self.closed).code, 4400);
    alice.ws.close();
    await alice.closed;
  } finally {
    await w.close();
  }
});

Deno.test("p2p relay: an oversized message or a full queue ends the pair", async () => {
  const w = world({ maxMessageBytes: 1000, maxQueuedBytes: 100 });
  try {
    let [alice, bob] = await pair(w);
    alice.ws.send(new Uint8Array(1001));
    assert.deepEqual(await bob.closed, { code: 4413, reason: "message too large" });
    assert.equal((await alice.closed).code, 4413);
    [alice, bob] = await pair(w);
    alice.ws.send(new Uint8Array(50));
    assert.equal((await bob.next() as ArrayBuffer).byteLength, 50);
    // More than the queue toward bob may hold, at once.
    alice.ws.send(new Uint8Array(200));
    assert.deepEqual(await bob.closed, { code: 4413, reason: "relay queue overflow" });
    await alice.closed;
    assert.ok(w.outcomes.includes("too_large") && w.outcomes.includes("overflow"));
    assert.equal(w.relay.paired + w.relay.waiting, 0);
  } finally {
    await w.close();
  }
});

Deno.test("p2p relay: the hello, the wait for a peer and an idle pair time out", async () => {
  // One short timeout per world: the others stay long, so a loaded machine cannot trip them.
  const hello = world({ helloTimeoutMs: 50 });
  try {
    const silent = new Client(hello.url, "token-alice");
    assert.deepEqual(await silent.closed, { code: 4408, reason: "no hello in time" });
    assert.deepEqual(hello.outcomes, ["hello_timeout"]);
  } finally {
    await hello.close();
  }
  const wait = world({ waitTimeoutMs: 50 });
  try {
    const lonely = new Client(wait.url, "token-alice");
    await lonely.hello("bob-1");
    await lonely.next();
    assert.deepEqual(await lonely.closed, { code: 4408, reason: "no peer joined in time" });
    assert.deepEqual(wait.outcomes, ["wait_timeout"]);
    assert.equal(wait.relay.waiting, 0);
  } finally {
    await wait.close();
  }
  const idle = world({ idleTimeoutMs: 50 });
  try {
    const [alice, bob] = await pair(idle);
    assert.deepEqual(await alice.closed, { code: 4408, reason: "idle" });
    await bob.closed;
    assert.deepEqual(idle.outcomes, ["idle_timeout", "idle_timeout"]);
  } finally {
    await idle.close();
  }
});

Deno.test("p2p relay: capacity is bounded and shutdown closes every socket", async () => {
  const w = world({ maxSessions: 1 });
  try {
    const alice = new Client(w.url, "token-alice");
    await alice.hello("bob-1");
    await alice.next();
    const other = new Client(w.url, "token-mallory");
    await other.hello("bob-1", "second-session-0123456");
    assert.equal((await other.closed).code, 1013);
    w.relay.shutdown();
    assert.equal((await alice.closed).code, 1001);
  } finally {
    await w.close();
  }
});
