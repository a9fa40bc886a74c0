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
    const init = (who: string, server: string, ...extra: string[]) =>
      ok(who, "init", "--server", server, "--username", who, "--tls-ca", ca, ...extra);
    await init("alice", srv.url, "--device-id", "alice-1");
    // Bob's network resets TLS to the server's address (the RST proxy stands in for it): even
    // init, which fetches /api/server-info, gets through only by its transports.
    const censored = `https://localhost:${rst.port}`;
    const blocked = await run("bob", "init", "--server", censored, "--tls-ca", ca);
    assert.equal(blocked.code, 1);
    assert.match(blocked.stderr, /^commucat: client init: /);
    const bobInit = await init(
      "bob",
      censored,
      "--device-id",
      "bob-1",
      "--transports",
      JSON.stringify(specs),
    );
    assert.match(bobInit.stderr, /^transport direct: failed \(reset\)/m);
    assert.match(
      bobInit.stderr,
      /^transport websocket https:\/\/localhost:\d+\/c7f3a9: failed \(refused\)/m,
    );
    assert.match(bobInit.stderr, /^transport shadowsocks .*: connected in \d+ ms$/m);
    const bobProfile = `${home}/config/commucat/bob/client.json`;
    const saved = JSON.parse(await Deno.readTextFile(bobProfile));
    assert.match(saved.last_transport, /^shadowsocks 127\.0\.0\.1:\d+ \(aes-256-gcm\)$/);
    assert.ok(!bobInit.stdout.includes(PASSWORD) && !bobInit.stderr.includes(PASSWORD));

    // Generous: the blocked ones fail at once (RST, refused); the last must finish a handshake.
    const set = await ok("bob", "transports", "--timeout-ms", "20000");
    assert.match(set.stdout, /each tried for 20000 ms/);
    assert.match(set.stdout, /^1\. direct$/m);
    assert.match(
      set.stdout,
      /^3\. shadowsocks 127\.0\.0\.1:\d+ \(aes-256-gcm\) {2}\(last worked\)$/m,
    );
    assert.ok(!set.stdout.includes(PASSWORD), "the password is never printed");

    // The remembered transport goes first: nothing blocked is tried, nothing logged.
    const first = await ok("bob", "listen", "--count", "0");
    assert.equal(first.stderr, "", "the remembered transport worked at once");

    // Friendship both ways: bob's REST calls ride his Shadowsocks route too; the
    // remembered transport goes first, so no blocked attempt is logged any more.
    assert.match((await ok("alice", "friend", "bob")).stdout, /friend request sent to bob/);
    assert.match((await ok("bob", "friend", "alice")).stdout, /accepted alice's friend request/);
    // A new list forgets the remembered choice: the blocked ones are tried (and logged) again.
    await ok("bob", "transports", "--set", JSON.stringify(specs));
    const friends = await ok("bob", "friends");
    assert.match(friends.stdout, /^friend alice: devices alice-1$/m);
    assert.match(friends.stderr, /^transport direct: failed \(reset\)/m);

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
