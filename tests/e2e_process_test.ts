/**
 * End-to-end tests against the real server process.
 */
import assert from "node:assert/strict";
import { CommuCatClient } from "../src/client/mod.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import type { ConnectMode } from "../src/transport/mod.ts";
import { befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { spawnServer } from "./helpers/process.ts";

Deno.test("process: every mode × pattern exchanges messages through one server", async () => {
  const server = await spawnServer();
  try {
    for (const mode of ["binary", "sse", "long-poll", "websocket"] as ConnectMode[]) {
      for (const pattern of ["XK", "IK"] as const) {
        const a = await CommuCatClient.connect(
          connectOptions(server, newDevice("a"), { mode, pattern }),
        );
        const bDevice = newDevice("b");
        const b = await CommuCatClient.connect(connectOptions(server, bDevice, { mode, pattern }));
        const channel = 1000 + Math.floor(Math.random() * 1e6);
        await befriend(server, a, b);
        await a.join(channel, [bDevice.deviceId]);
        await a.send(channel, `${mode}/${pattern}`);
        const got = await b.next();
        assert.equal(fromUtf8(got!.payload), `${mode}/${pattern}`, `${mode} ${pattern}`);
        a.close();
        b.close();
      }
    }
  } finally {
    assert.equal(await server.stop(), 0, "SIGTERM exits 0");
  }
});

Deno.test("process: SIGKILL after enqueue loses nothing that was acked", async () => {
  const first = await spawnServer();
  const alice = newDevice("alice");
  const bob = newDevice("bob");
  let dataDir = first.dataDir;
  try {
    const b = await CommuCatClient.connect(connectOptions(first, bob));
    b.close();
    const a = await CommuCatClient.connect(connectOptions(first, alice));
    await befriend(first, a, b); // b's session token outlives its connection
    await a.join(11, [bob.deviceId]);
    for (let i = 0; i < 50; i++) await a.send(11, `queued ${i}`); // each awaited: acked
    await first.kill();
    a.close();
    const second = await spawnServer({ dataDir });
    dataDir = second.dataDir;
    try {
      const b2 = await CommuCatClient.connect(connectOptions(second, bob));
      for (let i = 0; i < 50; i++) {
        const frame = await b2.next();
        assert.equal(frame?.type, FrameType.Msg);
        assert.equal(fromUtf8(frame!.payload), `queued ${i}`);
      }
      b2.close();
    } finally {
      await second.stop();
    }
  } finally {
    // Cleanup only: a leftover temp directory must not hide the test's own failure.
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("process: group fan-out reaches three devices, live and offline", async () => {
  const server = await spawnServer();
  try {
    const owner = newDevice("owner");
    const members = [newDevice("m1"), newDevice("m2"), newDevice("m3")];
    // Register everyone, keep two online, leave the third offline.
    const clients = await Promise.all(
      members.map((m) => CommuCatClient.connect(connectOptions(server, m))),
    );
    clients[2].close();
    const o = await CommuCatClient.connect(connectOptions(server, owner));
    for (const c of clients) await befriend(server, o, c);
    const created = await o.request(FrameType.GroupCreate, 20, {
      members: members.map((m) => m.deviceId),
      roles: { [members[0].deviceId]: "admin" },
    });
    assert.match(String(created.group_id), /^[0-9a-f]{64}$/);
    for (const c of clients.slice(0, 2)) {
      assert.equal((await c.next())?.type, FrameType.GroupCreate);
    }
    await o.send(20, "to the group");
    for (const c of clients.slice(0, 2)) {
      assert.equal(fromUtf8((await c.next())!.payload), "to the group");
    }
    const late = await CommuCatClient.connect(connectOptions(server, members[2]));
    assert.equal((await late.next())?.type, FrameType.GroupCreate);
    assert.equal(fromUtf8((await late.next())!.payload), "to the group");
    for (const c of [o, late, ...clients]) c.close();
  } finally {
    await server.stop();
  }
});

Deno.test("process: two terminal clients chat through the CLI", async () => {
  const server = await spawnServer();
  const home = await Deno.makeTempDir({ prefix: "commucat-cli-" });
  const main = new URL("../main.ts", import.meta.url).pathname;
  const run = async (who: string, ...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", main, "client", ...args],
      env: { COMMUCAT_CLIENT_HOME: `${home}/${who}`, NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    return text;
  };
  try {
    const certPath = `${home}/cert.pem`;
    await Deno.writeTextFile(certPath, server.certificatePem);
    for (const who of ["alice", "bob"]) {
      await run(
        who,
        "init",
        "--server",
        server.url,
        "--username",
        who,
        "--tls-ca",
        certPath,
        "--device-id",
        `${who}-dev`,
      );
    }
    await run("bob", "listen", "--count", "0"); // registers bob
    // Alice asks, bob accepts: through the terminal client itself.
    assert.match(await run("alice", "friend", "bob"), /friend request sent to bob/);
    assert.match(await run("bob", "friend", "alice"), /accepted alice's friend request/);
    // Friends by handle, not user id.
    assert.match(await run("alice", "friends"), /^friend bob: devices bob-dev$/m);
    const listener = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", main, "client", "listen", "--count", "1"],
      env: { COMMUCAT_CLIENT_HOME: `${home}/bob`, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
    }).spawn();
    const sent = await run("alice", "send", "--channel", "5", "--to", "bob-dev", "hello", "bob");
    assert.match(sent, /^sent on channel 5: routed .*; frame sequence \d+ of this connection$/m);
    const heard = new TextDecoder().decode((await listener.output()).stdout);
    assert.match(heard, /\[5\] alice: hello bob/);
  } finally {
    await server.stop();
    // Cleanup only: a leftover temp directory must not hide the test's own failure.
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
