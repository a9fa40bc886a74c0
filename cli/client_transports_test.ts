import assert from "node:assert/strict";
import { startTestServer } from "../tests/helpers/inprocess.ts";
import { closedPort, resetProxy } from "../tests/helpers/censor.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const PASSWORD = "cli-transport-password";

Deno.test("client transports: the profile's list gets past a blocked server address, remembers the way, and REST follows it", async () => {
  const srv = await startTestServer({
    shadowsocks: { hostname: "127.0.0.1", port: 0, method: "aes-256-gcm", password: PASSWORD },
  });
  const rst = await resetProxy();
  const home = await Deno.makeTempDir({ prefix: "commucat-transports-" });
  const env = {
    XDG_CONFIG_HOME: `${home}/config`,
    HOME: home,
    COMMUCAT_CLIENT_HOME: "",
    NO_COLOR: "1",
  };
  const run = async (who: string, command: string, ...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-all", MAIN, "client", command, "--profile", who, ...args],
      env,
      stdin: "null",
    }).output();
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    };
  };
  const ok = async (who: string, command: string, ...args: string[]) => {
    const r = await run(who, command, ...args);
    assert.equal(r.code, 0, `client ${command}: ${r.stdout}${r.stderr}`);
    return r;
  };
  try {
    const ca = `${home}/cert.pem`;
    await Deno.writeTextFile(ca, srv.certificatePem);
    for (const who of ["alice", "bob"]) {
      await ok(
        who,
        "init",
        "--server",
        srv.url,
        "--username",
        who,
        "--tls-ca",
        ca,
        "--device-id",
        `${who}-1`,
      );
    }
    const bobProfile = `${home}/config/commucat/bob/client.json`;
    // Bob's network now resets TLS to the server's address: every direct attempt gets a RST.
    const profile = JSON.parse(await Deno.readTextFile(bobProfile));
    profile.server_url = `https://localhost:${rst.port}`;
    await Deno.writeTextFile(bobProfile, JSON.stringify(profile));

    const specs = [
      { kind: "direct" },
      { kind: "websocket", url: `https://localhost:${closedPort()}/c7f3a9` },
      {
        kind: "shadowsocks",
        server: `127.0.0.1:${srv.server.shadowsocksAddr!.port}`,
        method: "aes-256-gcm",
        password: PASSWORD,
      },
    ];
    const set = await ok(
      "bob",
      "transports",
      "--set",
      JSON.stringify(specs),
      "--timeout-ms",
      // Generous: the blocked ones fail at once (RST, refused); the last must finish a handshake.
      "20000",
    );
    assert.match(set.stdout, /each tried for 20000 ms/);
    assert.match(set.stdout, /^1\. direct$/m);
    assert.match(set.stdout, /^3\. shadowsocks 127\.0\.0\.1:\d+ \(aes-256-gcm\)$/m);
    assert.ok(!set.stdout.includes(PASSWORD), "the password is never printed");

    const first = await ok("bob", "listen", "--count", "0");
    assert.match(first.stderr, /^transport direct: failed \(reset\)/m);
    assert.match(
      first.stderr,
      /^transport websocket https:\/\/localhost:\d+\/c7f3a9: failed \(refused\)/m,
    );
    assert.match(first.stderr, /^transport shadowsocks .*: connected in \d+ ms$/m);
    const saved = JSON.parse(await Deno.readTextFile(bobProfile));
    assert.match(saved.last_transport, /^shadowsocks 127\.0\.0\.1:\d+ \(aes-256-gcm\)$/);

    // Friendship both ways: bob's REST calls ride his Shadowsocks route too; the
    // remembered transport goes first, so no blocked attempt is logged any more.
    assert.match((await ok("alice", "friend", "bob")).stdout, /friend request sent to bob/);
    const accepted = await ok("bob", "friend", "alice");
    assert.match(accepted.stdout, /accepted alice's friend request/);
    assert.equal(accepted.stderr, "", "the remembered transport worked at once");
    assert.match((await ok("bob", "friends")).stdout, /^friend alice: devices alice-1$/m);
    assert.match((await ok("bob", "transports")).stdout, /^3\. shadowsocks .*\(last worked\)$/m);

    // Transports without a peer implementation are refused by name.
    const bad = await run("bob", "transports", "--set", '[{"kind":"direct"},{"kind":"amneziawg"}]');
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^commucat: client transports: transports\[1\]\.kind: "amneziawg" is not supported/,
    );
  } finally {
    rst.stop();
    await srv.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
