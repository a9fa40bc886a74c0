import assert from "node:assert/strict";
import { Command } from "@commander-js/extra-typings";
import { FileLedger } from "../src/ledger/mod.ts";
import { registerLedgerCommands, runLedgerVerify } from "./ledger.ts";
import { captureIo } from "./_test_io.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

Deno.test("ledger verify: ok, first bad line, unreadable file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-ledger-cli-" });
  try {
    const path = `${dir}/ledger.jsonl`;
    const ledger = await FileLedger.open(path, { logger: quiet });
    for (let i = 0; i < 3; i++) await ledger.record({ i });
    await ledger.close();

    const ok = captureIo();
    assert.equal(await runLedgerVerify(path, ok), 0);
    assert.match(ok.out, /^ok: 3 records\nhead: [0-9a-f]{64}\n$/);

    const lines = (await Deno.readTextFile(path)).split("\n");
    await Deno.writeTextFile(path, [lines[0], lines[2], ""].join("\n"));
    const bad = captureIo();
    assert.equal(await runLedgerVerify(path, bad), 1);
    assert.match(bad.out, /^line 2: seq 3 where 2 was expected/);

    const missing = captureIo();
    assert.equal(await runLedgerVerify(`${dir}/nope.jsonl`, missing), 2);
    assert.match(missing.err[0], /^commucat: ledger verify: cannot read ledger/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ledger verify is registered with commander", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-ledger-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/empty.jsonl`, "");
    const io = captureIo();
    const program = new Command().exitOverride();
    registerLedgerCommands(program, io);
    await program.parseAsync(["ledger", "verify", `${dir}/empty.jsonl`], { from: "user" });
    assert.match(io.out, /^ok: 0 records\n/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
