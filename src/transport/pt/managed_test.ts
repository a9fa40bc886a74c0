import assert from "node:assert/strict";
import { silentLogger } from "../../log/mod.ts";
import {
  locatePtBinary,
  ManagedTransport,
  type ManagedTransportOptions,
  PtStartError,
} from "./managed.ts";

const obfs4proxy = await new Deno.Command("sh", {
  args: ["-c", "command -v obfs4proxy"],
  stdout: "null",
}).output().then((o) => o.success, () => false);
if (!obfs4proxy) console.warn("SKIPPED: obfs4proxy missing: managed-mode child tests skip");
const skip = obfs4proxy ? "" : " (SKIPPED: obfs4proxy missing)";

async function withStateDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "commucat-pt-managed-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function client(stateDir: string, extra: Partial<ManagedTransportOptions> = {}) {
  return {
    binary: "obfs4proxy",
    transport: "obfs4",
    stateDir,
    side: { role: "client" as const },
    configKey: "transport.pt.binary",
    log: silentLogger,
    ...extra,
  };
}

Deno.test("a missing PT binary fails the start, naming the key", async () => {
  await withStateDir(async (dir) => {
    const error = await ManagedTransport.start(client(dir, { binary: `${dir}/no-such-pt` }))
      .then(() => null, (e) => e);
    assert.ok(error instanceof PtStartError);
    assert.match(error.message, /^pluggable transport \(transport\.pt\.binary\): .*not found/);
  });
});

Deno.test("a binary that exits without a method, or says nothing in time, fails the start", async () => {
  await withStateDir(async (dir) => {
    await assert.rejects(
      ManagedTransport.start(client(dir, { binary: "true" })),
      /exited before reporting its methods \(no output\)/,
    );
    // `cat` echoes nothing and waits on its stdin: closing it (the stop) ends it.
    await assert.rejects(
      ManagedTransport.start(client(dir, { binary: "cat", startTimeoutMs: 200 })),
      /no methods reported within 200 ms/,
    );
  });
});

Deno.test({
  name: `obfs4proxy refuses a transport it lacks: the start fails with its CMETHOD-ERROR${skip}`,
  ignore: !obfs4proxy,
  async fn() {
    await withStateDir(async (dir) => {
      await assert.rejects(
        ManagedTransport.start(client(dir, { transport: "meek" })),
        /CMETHOD-ERROR meek no such transport is supported/,
      );
    });
  },
});

Deno.test({
  name: `an obfs4proxy client child opens a SOCKS5 port and exits when its stdin closes${skip}`,
  ignore: !obfs4proxy,
  async fn() {
    await withStateDir(async (dir) => {
      const pt = await ManagedTransport.start(client(dir));
      assert.equal(pt.method.protocol, "socks5");
      const socks = await Deno.connect(pt.method.address);
      socks.close();
      await pt.stop();
      const status = await pt.exited;
      // Closing stdin was enough: no signal was needed.
      assert.equal(status.signal, null);
      await assert.rejects(Deno.connect(pt.method.address));
    });
  },
});

Deno.test("locatePtBinary: a path as given, a name on PATH, else null", async () => {
  await withStateDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/pt`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/not-executable`, "", { mode: 0o644 });
    assert.equal(locatePtBinary(`${dir}/pt`), `${dir}/pt`);
    assert.equal(locatePtBinary("pt", `/nonexistent:${dir}/`), `${dir}/pt`);
    assert.equal(locatePtBinary("not-executable", dir), null);
    assert.equal(locatePtBinary("pt", "/nonexistent"), null);
  });
});

Deno.test("a PT binary that is not executable fails the start, saying so", async () => {
  await withStateDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/pt`, "#!/bin/sh\n", { mode: 0o644 });
    await assert.rejects(
      ManagedTransport.start(client(dir, { binary: `${dir}/pt` })),
      /transport\.pt\.binary\): .*pt is not executable/,
    );
  });
});
