import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { toHex } from "../src/crypto/mod.ts";
import { ADMIN_SECRET_NAME, DEFAULT_ROTATION } from "../src/security/rotation/mod.ts";
import { openStore } from "../src/storage/mod.ts";
import { registerKeyCommands, type SecretCommandOptions } from "./keys.ts";
import { captureIo } from "./_test_io.ts";

/** Runs one command line against the database at `db`; returns its output. */
async function cli(db: string, ...args: string[]) {
  const io = captureIo();
  const opened: SecretCommandOptions[] = [];
  const program = new Command().exitOverride();
  registerKeyCommands(program, (options) => {
    opened.push(options);
    return openStore({ backend: "sqlite", path: options.db! });
  }, { io, settings: () => DEFAULT_ROTATION });
  const before = Deno.exitCode;
  await program.parseAsync([...args, "--db", db], { from: "user" });
  const code = Deno.exitCode;
  Deno.exitCode = before;
  assert.equal(opened[0].db, db);
  return { ...io, code };
}

async function withDb(fn: (db: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "commucat-keys-" });
  const db = `${dir}/commucat.db`;
  await (await openStore({ backend: "sqlite", path: db }, { migrate: true, createIfNew: true }))
    .close();
  try {
    await fn(db);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("keys rotate then keys list", async () => {
  await withDb(async (db) => {
    const empty = await cli(db, "keys", "list");
    assert.match(empty.out, /no noise keys stored/);
    const first = await cli(db, "keys", "rotate");
    assert.match(first.out, /^rotated noise key: version 1\npublic key: [0-9a-f]{64}\n/);
    const second = await cli(db, "keys", "rotate");
    const publicKey = /public key: ([0-9a-f]{64})/.exec(second.out)![1];
    const list = await cli(db, "keys", "list");
    const lines = list.out.trim().split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[1], new RegExp(`^\\* 2 +${publicKey}  .* active$`));
    assert.match(lines[2], /^ {2}1 +[0-9a-f]{64} {2}.* active$/);
    // Private keys never leave the store.
    const store = await openStore({ backend: "sqlite", path: db });
    for (const row of await store.listSecrets("noise-static")) {
      assert.equal(list.out.includes(toHex(row.secret)), false);
    }
    await store.close();
  });
});

Deno.test("admin-token create, list, revoke", async () => {
  await withDb(async (db) => {
    const created = await cli(db, "admin-token", "create", "--label", "ops", "--ttl-hours", "2");
    const token = /token: ([0-9a-f]{64})\n/.exec(created.out)![1];
    assert.match(created.out, /^version: 1\nlabel: ops\nexpires_at: .*\ntoken: /);
    assert.match(created.err[0], /shown only now/);

    const list = await cli(db, "admin-token", "list");
    assert.match(list.out, /\n1 +manual +\S+ +\S+ +active +ops\n$/);
    assert.equal(list.out.includes(token), false);
    const store = await openStore({ backend: "sqlite", path: db });
    const [row] = await store.listSecrets(ADMIN_SECRET_NAME);
    assert.equal(list.out.includes(toHex(row.secret)), false);
    await store.close();

    const revoked = await cli(db, "admin-token", "revoke", "1");
    assert.equal(revoked.out, "revoked admin token version 1\n");
    assert.match(revoked.err[0], /no active admin token is left/);
    const again = await cli(db, "admin-token", "revoke", "1");
    assert.equal(again.code, 1);
    assert.deepEqual(again.err, ["commucat: admin-token revoke: no admin token version 1"]);
  });
});

Deno.test("a store that cannot be opened is one error line and exit code 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-keys-" });
  try {
    const result = await cli(`${dir}/missing/commucat.db`, "keys", "list");
    assert.equal(result.code, 1);
    assert.match(result.err[0], /^commucat: (keys|admin-token) [a-z]+: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
