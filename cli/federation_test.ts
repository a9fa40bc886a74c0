import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { PeerDirectory } from "../src/federation/mod.ts";
import { openStore, type Store } from "../src/storage/mod.ts";
import { normalizeEndpoint, registerFederationCommands } from "./federation.ts";

const KEY = "11".repeat(32);

async function withStore(
  fn: (
    cli: (...args: string[]) => Promise<{ out: string; err: string[]; code: number | undefined }>,
    store: () => Promise<Store>,
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "commucat-fed-cli-" });
  const db = `${dir}/commucat.db`;
  await (await openStore({ backend: "sqlite", path: db }, { migrate: true, createIfNew: true }))
    .close();
  const cli = async (...args: string[]) => {
    const io = { out: "", err: [] as string[] };
    const program = new Command().exitOverride();
    registerFederationCommands(program, () => openStore({ backend: "sqlite", path: db }), {
      io: { write: (t) => void (io.out += t), error: (l) => void io.err.push(l) },
      now: () => new Date("2025-03-01T12:00:00Z"),
    });
    const before = Deno.exitCode;
    Deno.exitCode = 0;
    await program.parseAsync([...args, "--db", db], { from: "user" });
    const code = Deno.exitCode;
    Deno.exitCode = before;
    return { ...io, code };
  };
  try {
    await fn(cli, () => openStore({ backend: "sqlite", path: db }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("federation peers add, list, block, remove; blocked overrides the configuration", async () => {
  await withStore(async (cli, open) => {
    assert.equal((await cli("federation", "peers", "list")).out, "no stored peers\n");
    const added = await cli("federation", "peers", "add", "B.Test", "https://b.test:8443/", KEY);
    assert.equal(added.code, 0, added.err.join("\n"));
    assert.equal(added.out, "peer b.test active at https://b.test:8443\n");
    assert.equal(
      (await cli("federation", "peers", "list")).out,
      `b.test\tactive\thttps://b.test:8443\t${KEY}\n`,
    );
    const configured = [{
      domain: "c.test",
      endpoint: "https://c.test",
      publicKey: new Uint8Array(32),
    }];
    let store = await open();
    assert.deepEqual((await new PeerDirectory(store, configured).list()).map((p) => p.domain), [
      "b.test",
      "c.test",
    ]);
    await store.close();
    assert.equal((await cli("federation", "peers", "block", "c.test")).code, 0);
    assert.equal((await cli("federation", "peers", "block", "b.test")).code, 0);
    store = await open();
    const directory = new PeerDirectory(store, configured);
    assert.equal(await directory.get("c.test"), null, "blocked beats configured");
    assert.equal(await directory.get("b.test"), null);
    assert.equal((await store.getFederationPeer("b.test"))?.endpoint, "https://b.test:8443");
    await store.close();
    assert.equal((await cli("federation", "peers", "remove", "c.test")).code, 0);
    store = await open();
    assert.equal((await new PeerDirectory(store, configured).get("C.TEST"))?.source, "config");
    await store.close();
    const missing = await cli("federation", "peers", "remove", "nope.test");
    assert.equal(missing.code, 1);
    assert.deepEqual(missing.err, ["commucat: federation peers remove: no stored peer nope.test"]);
  });
});

Deno.test("federation peers add refuses bad input", async () => {
  await withStore(async (cli) => {
    for (
      const args of [
        ["bad domain!", "https://x.test", KEY],
        ["x.test", "ftp://x.test", KEY],
        ["x.test", "https://x.test", "abcd"],
      ]
    ) {
      const r = await cli("federation", "peers", "add", ...args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(r.err[0], /^commucat: federation peers [a-z]+: /);
    }
  });
  assert.equal(normalizeEndpoint("https://b.test:8443/base/"), "https://b.test:8443/base");
});
