import assert from "node:assert/strict";
import { openSqliteStore } from "./store.ts";

Deno.test("sqlite group commit: registrations resolved before a SIGKILL are all there after reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-group-" });
  const path = `${dir}/commucat.db`;
  const count = 8;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        new URL("./_crash_registrar.ts", import.meta.url).href,
        path,
        String(count),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("committed")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.ok(seen.includes("committed"), "the child never reported its commits");
    // The crash: no close, no checkpoint; only the WAL in the page cache.
    child.kill("SIGKILL");
    await reader.cancel();
    await child.status;

    const store = await openSqliteStore(path);
    try {
      for (let n = 0; n < count; n++) {
        assert.equal((await store.getUser(`u${n}`))?.handle, `h${n}`);
        assert.equal((await store.getDevice(`d${n}`))?.status, "active");
        assert.equal((await store.getSession(`s${n}`))?.deviceId, `d${n}`);
      }
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqlite group commit: writes still waiting for their turn are committed by close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-group-" });
  const path = `${dir}/commucat.db`;
  try {
    const store = await openSqliteStore(path, { migrate: true });
    const now = new Date();
    await store.createUser({
      userId: "u1",
      handle: "alice",
      displayName: null,
      avatarUrl: null,
      domain: "local",
      createdAt: now,
      updatedAt: now,
    });
    await store.insertDevice({
      deviceId: "d1",
      userId: "u1",
      publicKey: new Uint8Array(32),
      status: "active",
      createdAt: now,
    });
    const pending = store.commitHandshake({
      session: {
        sessionId: "s1",
        userId: "u1",
        deviceId: "d1",
        tlsFingerprint: "",
        createdAt: now,
        ttlSeconds: 60,
      },
    });
    await store.close(); // before the turn's flush ran
    assert.equal((await pending).activeDevices, 1);
    const again = await openSqliteStore(path);
    try {
      assert.notEqual(await again.getSession("s1"), null);
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
