/**
 * Test helper process of `group_commit_test.ts`: opens the SQLite store at
 * `Deno.args[0]` (the server's defaults: WAL, synchronous NORMAL), starts
 * `Deno.args[1]` registrations at once (one group commit), prints
 * `committed` once every one resolved (what the handshake answers with its
 * Ack), then waits to be killed without closing anything.
 *
 * @module
 */
import { openSqliteStore } from "./store.ts";

const [path, countArg] = Deno.args;
const store = await openSqliteStore(path, { migrate: true });
const now = new Date();
await Promise.all(Array.from({ length: Number(countArg) }, (_, n) =>
  store.commitHandshake({
    createUser: {
      userId: `u${n}`,
      handle: `h${n}`,
      displayName: null,
      avatarUrl: null,
      domain: "local",
      createdAt: now,
      updatedAt: now,
    },
    insertDevice: {
      deviceId: `d${n}`,
      userId: `u${n}`,
      publicKey: new Uint8Array(32).fill(n),
      status: "active",
      createdAt: now,
    },
    session: {
      sessionId: `s${n}`,
      userId: `u${n}`,
      deviceId: `d${n}`,
      tlsFingerprint: "",
      createdAt: now,
      ttlSeconds: 60,
    },
  })));
console.log("committed");
// Never closes the store: the parent kills this process here.
await new Promise(() => setInterval(() => {}, 60_000));
