/**
 * The server writes its audit ledger: handshakes (success and failure) and
 * registrations land in a hash-chained JSONL file that verifies, and whose
 * tampering is detected. Session ids (bearer tokens) never appear in it.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { verifyLedgerFile } from "../src/ledger/mod.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer } from "./helpers/inprocess.ts";

Deno.test("ledger file: handshake success, registration and failure are recorded and verify", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-ledger-" });
  const target = `${dir}/audit.jsonl`;
  const srv = await startTestServer({ ledger: { mode: "file", target } });
  let sessionId = "";
  try {
    const a = await CommuCatClient.connect(connectOptions(srv, newDevice("audited")));
    sessionId = a.session.sessionId;
    a.close();
    const wrongKey = crypto.getRandomValues(new Uint8Array(32));
    await assert.rejects(
      CommuCatClient.connect({ ...connectOptions(srv, newDevice()), serverStatic: wrongKey }),
    );
  } finally {
    await srv.stop();
  }
  const text = await Deno.readTextFile(target);
  const records = text.trim().split("\n").map((line) => JSON.parse(line));
  const meta = records.map((r) => r.metadata);
  assert.ok(meta.some((m) => m.scope === "handshake" && m.result === "success"));
  assert.ok(meta.some((m) => m.action === "register"));
  assert.ok(meta.some((m) => m.scope === "handshake" && m.result === "failure"));
  assert.ok(!text.includes(sessionId), "the session token is not in the ledger");
  assert.deepEqual(await verifyLedgerFile(target), {
    ok: true,
    records: records.length,
    head: (await verifyLedgerFile(target) as { head: string }).head,
  });
  // Edit one record in the middle: verification names it.
  const lines = text.trim().split("\n");
  lines[0] = lines[0].replace('"success"', '"failure"').replace('"register"', '"rotate"');
  await Deno.writeTextFile(target, lines.join("\n") + "\n");
  const tampered = await verifyLedgerFile(target);
  assert.equal(tampered.ok, false);
  await Deno.remove(dir, { recursive: true });
});
