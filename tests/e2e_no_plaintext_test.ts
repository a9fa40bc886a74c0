/**
 * What the server keeps and forwards for an end-to-end encrypted (MLS)
 * conversation holds no plaintext: two friends exchange KeyPackages through
 * the key directory, one creates an MLS group (ts-mls) and hands the other
 * its Welcome, then both send MLS application messages as ordinary Msg
 * frames. Every database row (and the SQLite files byte for byte) and every
 * Redis bus message of the run is searched for the texts — raw, hex and
 * base64 at every alignment — and none is found; the recipient still
 * decrypts each message, and a control message sent in the plaintext mode
 * (left queued for bob) is found by the same search (so it looks at the
 * right places).
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { Redis } from "ioredis";
import { CommuCatClient } from "../src/client/mod.ts";
import { toHex, utf8 } from "../src/crypto/mod.ts";
import { decodeBase64, encodeBase64, FrameType } from "../src/proto/mod.ts";
import { openPostgresStore } from "../src/storage/mod.ts";
import { api, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice, type TestDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import {
  decrypt,
  encrypt,
  join,
  keyPackageFor,
  startGroup,
  suite,
  uploadEntry,
} from "./helpers/mls.ts";

const PG_DSN = Deno.env.get("COMMUCAT_TEST_PG_DSN") || undefined;
const REDIS_URL = Deno.env.get("COMMUCAT_TEST_REDIS_URL") || undefined;

/** Every form a text could take in stored or forwarded bytes. */
function forms(text: string): string[] {
  const raw = utf8(text);
  const out = [text, toHex(raw)];
  // Base64 of the text at each of the three alignments inside a longer payload:
  // only the characters fully determined by the text's own bytes.
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + raw.length);
    padded.set(raw, shift);
    const encoded = encodeBase64(padded);
    const first = Math.ceil(shift / 3);
    const last = Math.floor((shift + raw.length) / 3);
    out.push(encoded.slice(first * 4, last * 4));
  }
  return out;
}

function assertNoPlaintext(where: string, haystack: string, secrets: string[]): void {
  for (const secret of secrets) {
    for (const form of forms(secret)) {
      assert.equal(haystack.includes(form), false, `${where} contains "${secret}" (as ${form})`);
    }
  }
}

/** Bytes as text for searching (latin1: one char per byte, so raw UTF-8 matches too). */
function latin1(bytes: Uint8Array): string {
  return new TextDecoder("latin1").decode(bytes);
}

/** The frames on `channel` that `client` receives, in order, until `count` arrived. */
async function receive(client: CommuCatClient, channel: number, count: number) {
  const out: Uint8Array[] = [];
  while (out.length < count) {
    const frame = await client.next();
    if (frame === null) throw new Error("connection closed");
    if (frame.type === FrameType.Msg && frame.channel === channel) out.push(frame.payload);
  }
  return out;
}

/**
 * The conversation: alice (on `a`) and bob (on `b`, maybe the same server).
 * Returns the texts sent end to end, and a control text sent in the
 * plaintext mode that stays queued for bob; asserts bob decrypted each.
 */
async function conversation(
  a: TestServer,
  b: TestServer,
): Promise<{ texts: string[]; control: string }> {
  const marker = crypto.randomUUID().slice(0, 8);
  const texts = [
    `attack at dawn ${marker}`,
    `the vault code is 4-8-15-16-23-42 ${marker}`,
    `offline: meet at the old mill ${marker}`,
  ];
  const [aliceDevice, bobDevice]: TestDevice[] = [newDevice("alice"), newDevice("bob")];
  const alice = await CommuCatClient.connect(connectOptions(a, aliceDevice));
  let bob = await CommuCatClient.connect(connectOptions(b, bobDevice));
  try {
    await befriend(a, alice, bob);
    const cs = await suite();
    const bobKp = await keyPackageFor(cs, bobDevice.deviceId);
    const aliceKp = await keyPackageFor(cs, aliceDevice.deviceId);
    const up = await api(b, "POST", "/api/e2e/key-packages", {
      as: bob,
      json: { key_packages: [uploadEntry(bobDevice, bobKp.bytes)] },
    });
    assert.equal(up.status, 201, up.text);
    const taken = await api(a, "GET", `/api/e2e/key-packages/${bobDevice.deviceId}`, { as: alice });
    assert.equal(taken.status, 200, taken.text);
    const { keyPackageOf } = await import("./helpers/mls.ts");
    const fetched = keyPackageOf(decodeBase64(String(taken.body?.key_package)));

    const channel = 4000 + Math.floor(Math.random() * 100_000);
    const group = await startGroup(cs, `group-${marker}`, aliceKp, fetched);
    let aliceState = group.state;
    await alice.join(channel, [bobDevice.deviceId]);
    const welcomed = await api(a, "POST", "/api/e2e/welcome", {
      as: alice,
      json: { device_id: bobDevice.deviceId, channel, welcome: encodeBase64(group.welcome) },
    });
    assert.equal(welcomed.status, 202, welcomed.text);
    const [welcome] = await receive(bob, channel, 1);
    let bobState = await join(cs, welcome, bobKp);

    // Live: two messages.
    for (const text of texts.slice(0, 2)) {
      const sealed = await encrypt(cs, aliceState, text);
      aliceState = sealed.state;
      await alice.send(channel, sealed.bytes);
    }
    for (const [i, payload] of (await receive(bob, channel, 2)).entries()) {
      const opened = await decrypt(cs, bobState, payload);
      bobState = opened.state;
      assert.equal(opened.text, texts[i]);
    }
    // Offline: bob is away, the message waits in his queue (the database).
    await bob.closeGracefully();
    const sealed = await encrypt(cs, aliceState, texts[2]);
    await alice.send(channel, sealed.bytes);
    bob = await CommuCatClient.connect(connectOptions(b, bobDevice));
    const [queued] = await receive(bob, channel, 1);
    assert.equal((await decrypt(cs, bobState, queued)).text, texts[2]);
    // The control: plaintext mode, bob away, so it stays in his queue.
    await bob.closeGracefully();
    const control = `plaintext mode control ${marker}`;
    await alice.send(channel, control);
    return { texts, control };
  } finally {
    alice.close();
    bob.close();
  }
}

Deno.test("e2e: SQLite rows and files of an MLS conversation hold no plaintext", async () => {
  const srv = await startTestServer();
  try {
    const { texts, control } = await conversation(srv, srv);
    let controlSeen = false;
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(`${srv.dataDir}/commucat.db`, { readOnly: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
      let rows = 0;
      for (const { name } of tables) {
        for (const row of db.prepare(`SELECT * FROM "${String(name)}"`).all()) {
          rows++;
          const text = Object.values(row).map((v) =>
            v instanceof Uint8Array ? latin1(v) : String(v)
          ).join("\u0000");
          assertNoPlaintext(`table ${String(name)}`, text, texts);
          controlSeen ||= text.includes(control);
        }
      }
      assert.ok(rows > 0);
      assert.ok(controlSeen, "the plaintext-mode control is found in the rows");
    } finally {
      db.close();
    }
    for await (const entry of Deno.readDir(srv.dataDir)) {
      if (!entry.isFile || !entry.name.startsWith("commucat.db")) continue;
      const bytes = await Deno.readFile(`${srv.dataDir}/${entry.name}`);
      assertNoPlaintext(`file ${entry.name}`, latin1(bytes), texts);
    }
  } finally {
    await srv.stop();
  }
});

const clusterReady = PG_DSN !== undefined && REDIS_URL !== undefined;
Deno.test({
  name: "e2e: PostgreSQL rows and Redis bus messages across two instances hold no plaintext" +
    (clusterReady ? "" : " (skipped: COMMUCAT_TEST_PG_DSN or COMMUCAT_TEST_REDIS_URL not set)"),
  ignore: !clusterReady,
  fn: async () => {
    const admin = postgres(PG_DSN!, { max: 1, onnotice: () => {} });
    const schema = `commucat_e2e_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await admin.unsafe(`CREATE SCHEMA ${schema}`);
    const captured: { channel: string; message: string }[] = [];
    const tap = new Redis(REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const servers: TestServer[] = [];
    const dataDir = await Deno.makeTempDir({ prefix: "commucat-e2e-" });
    try {
      await tap.connect();
      tap.on("pmessageBuffer", (_pattern: Buffer, channel: Buffer, message: Buffer) => {
        captured.push({ channel: channel.toString(), message: latin1(new Uint8Array(message)) });
      });
      await tap.psubscribe("*");
      for (const _ of [0, 1]) {
        const store = await openPostgresStore(PG_DSN!, { schema, migrate: true });
        servers.push(
          await startTestServer(
            { dataDir, presence: { backend: "redis", url: REDIS_URL! } },
            { store },
          ),
        );
      }
      const { texts, control } = await conversation(servers[0], servers[1]);
      let controlSeen = false;
      const tables = await admin.unsafe(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = '${schema}'`,
      );
      for (const { table_name } of tables) {
        const rows = await admin.unsafe(
          `SELECT row_to_json(t)::text AS j FROM ${schema}."${table_name}" t`,
        );
        for (const { j } of rows) {
          assertNoPlaintext(`table ${table_name}`, String(j), texts);
          controlSeen ||= forms(control).some((form) => String(j).includes(form));
        }
      }
      assert.ok(controlSeen, "the plaintext-mode control is found in the rows");
      const ours = captured.filter((m) => m.channel.includes("commucat:bus"));
      // Live copies ride as binary held-copies (first byte 0xC1, PROTOCOL.md "Several
      // instances"): searched raw (latin1) as well as hex and base64 below.
      assert.ok(
        ours.some((m) => m.message.charCodeAt(0) === 0xc1),
        "the bus carried the copies of the conversation",
      );
      for (const m of captured) assertNoPlaintext(`bus ${m.channel}`, m.message, texts);
    } finally {
      for (const s of servers) await s.stop();
      tap.disconnect();
      await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end({ timeout: 5 });
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});
