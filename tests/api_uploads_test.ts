/**
 * #19 §2 "avatars never collected": 20 uploads left 20 files. A user now
 * keeps one avatar (the previous file is deleted) of at most
 * `uploads.max_bytes_per_user` bytes.
 */
import assert from "node:assert/strict";
import { avatarHash } from "../src/api/mod.ts";
import { loadConfig } from "../src/config/mod.ts";
import { CommuCatClient } from "../src/client/mod.ts";
import type { ServerSettings } from "../src/server/mod.ts";
import { api, assertProblem } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";

/** A PNG signature followed by `n`, so each call gives a different image. */
function png(n: number, size = 32): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  new DataView(bytes.buffer).setUint32(8, n);
  return bytes;
}

async function withServer(
  settings: Partial<ServerSettings>,
  fn: (srv: TestServer, dir: string) => Promise<void>,
): Promise<void> {
  const srv = await startTestServer(settings);
  try {
    await fn(srv, `${srv.dataDir}/uploads`);
  } finally {
    await srv.stop();
  }
}

function files(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

function upload(srv: TestServer, as: CommuCatClient, body: Uint8Array<ArrayBuffer>) {
  return api(srv, "POST", "/api/users/me/avatar", {
    as,
    body,
    headers: { "content-type": "image/png" },
  });
}

Deno.test("20 avatar uploads leave one file: each replaces (deletes) the previous", async () => {
  await withServer({}, async (srv, dir) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    try {
      let last = "";
      let first = "";
      for (let i = 0; i < 20; i++) {
        const r = await upload(srv, a, png(i));
        assert.equal(r.status, 200, r.text);
        last = String(r.body!.filename);
        if (i === 0) first = last;
      }
      assert.deepEqual(files(dir), [last]);
      assert.equal(last, `${avatarHash(a.session.userId, png(19))}.png`);
      assert.equal((await api(srv, "GET", `/uploads/${last}`)).status, 200);
      assertProblem(await api(srv, "GET", `/uploads/${first}`), 404, "not found");
      // The same image again keeps its (same) file.
      assert.equal((await upload(srv, a, png(19))).status, 200);
      assert.deepEqual(files(dir), [last]);
    } finally {
      a.close();
    }
  });
});

Deno.test("the same image from two users is two files; replacing one leaves the other", async () => {
  await withServer({}, async (srv, dir) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const b = await CommuCatClient.connect(connectOptions(srv, newDevice("bob")));
    try {
      const fromA = await upload(srv, a, png(7));
      const fromB = await upload(srv, b, png(7));
      assert.notEqual(fromA.body!.filename, fromB.body!.filename);
      assert.equal(files(dir).length, 2);
      assert.equal((await upload(srv, a, png(8))).status, 200);
      assert.ok(files(dir).includes(String(fromB.body!.filename)));
      assert.equal((await api(srv, "GET", `/uploads/${fromB.body!.filename}`)).status, 200);
      assert.equal(files(dir).length, 2);
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("an avatar URL copied from another user's profile is not deleted by an upload", async () => {
  await withServer({}, async (srv, dir) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    const b = await CommuCatClient.connect(connectOptions(srv, newDevice("bob")));
    try {
      const fromA = await upload(srv, a, png(1));
      await srv.server.store.updateUserProfile(
        b.session.userId,
        { avatarUrl: String(fromA.body!.avatar_url) },
        new Date(),
      );
      assert.equal((await upload(srv, b, png(2))).status, 200);
      assert.ok(files(dir).includes(String(fromA.body!.filename)));
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("uploads.max_bytes_per_user bounds an avatar: over it is 413 naming the quota", async () => {
  const uploads = (dataDir: string) => ({
    dir: `${dataDir}/uploads`,
    baseUrl: "https://example.test/uploads",
    maxBytesPerUser: 1000,
  });
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-test-" });
  await withServer({ dataDir, uploads: uploads(dataDir) }, async (srv, dir) => {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("alice")));
    try {
      assertProblem(
        await upload(srv, a, png(1, 1001)),
        413,
        "avatar file too large (max 1000 bytes)",
      );
      const ok = await upload(srv, a, png(2, 1000));
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body!.avatar_url, `https://example.test/uploads/${ok.body!.filename}`);
      assert.deepEqual(files(dir), [String(ok.body!.filename)]);
    } finally {
      a.close();
    }
  });
});

Deno.test("uploads.max_bytes_per_user: a bad value is one line naming the key", () => {
  const env = { COMMUCAT_CONFIG: "", COMMUCAT_UPLOADS_MAX_BYTES_PER_USER: "0" };
  assert.throws(
    () => loadConfig({ env }),
    (e: unknown) =>
      e instanceof Error && !e.message.includes("\n") &&
      e.message.startsWith(
        "config: uploads.max_bytes_per_user (COMMUCAT_UPLOADS_MAX_BYTES_PER_USER)",
      ),
  );
  const ok = loadConfig({ env: { ...env, COMMUCAT_UPLOADS_MAX_BYTES_PER_USER: "65536" } });
  assert.equal(ok.uploads.maxBytesPerUser, 65536);
});
