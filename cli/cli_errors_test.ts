import assert from "node:assert/strict";
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { channelOption, countOption, modeOption } from "./client_options.ts";
import { fetchFailure } from "./client_session.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `commucat <args>` as a process in `cwd`; returns exit code, stdout and stderr. */
async function commucat(cwd: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, ...args],
    cwd,
    env: { NO_COLOR: "1", COMMUCAT_CLIENT_HOME: `${cwd}/client` },
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A TCP port nothing listens on (bound, then released). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("cli: every usage or setup error is one line `commucat: <command>: <message>` with a non-zero exit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "commucat-cli-errors-" });
  try {
    const bad = `${dir}/bad.toml`;
    await Deno.writeTextFile(bad, "[server]\nbind = 5\n");
    const missing = `${dir}/missing.db`;
    // [arguments, the command path the line names, the message]
    const cases: [string[], string, RegExp][] = [
      [["client", "connect", "--mode", "bogus"], "client connect", /unknown mode "bogus"/],
      [
        ["client", "send", "--channel", "x", "hi"],
        "client send",
        /--channel.*must be a channel id/,
      ],
      [["client", "listen", "--count", "-1"], "client listen", /--count.*non-negative integer/],
      [["client", "init", "--server", "nonsense"], "client init", /--server must be a URL/],
      [
        ["client", "init", "--server", `https://127.0.0.1:${closedPort()}`],
        "client init",
        /cannot reach https:\/\/127\.0\.0\.1:\d+\/api\/server-info: .*refused/,
      ],
      [["client", "friends"], "client friends", /no profile at .*client init/],
      [["client", "frobnicate"], "client", /unknown command 'frobnicate'/],
      [["bench", "load", "--pairs", "0"], "bench load", /--pairs must be a positive integer/],
      [["bench", "load", "--scenario", "nope"], "bench load", /unknown scenario "nope"/],
      [["register-user", "carol", "-c", bad], "register-user", /config: server\.bind/],
      [["rotate-keys", "--handle", "carol", "-c", bad], "rotate-keys", /config: server\.bind/],
      [["users", "list", "-c", bad], "users list", /config: server\.bind/],
      [["config", "check", "-c", bad], "config check", /config: server\.bind/],
      [["serve", "-c", bad], "serve", /config: server\.bind/],
      [["keys", "list", "--db", missing], "keys list", /database .*missing\.db does not exist/],
      [
        ["federation", "peers", "list", "--db", missing],
        "federation peers list",
        /missing\.db does not exist/,
      ],
      [["ledger", "verify", `${dir}/no-ledger`], "ledger verify", /cannot read ledger/],
    ];
    const results = await Promise.all(cases.map(([args]) => commucat(dir, args)));
    cases.forEach(([args, command, pattern], i) => {
      const { code, stderr } = results[i];
      const what = `commucat ${args.join(" ")}\n--- stderr:\n${stderr}`;
      assert.notEqual(code, 0, what);
      assert.doesNotMatch(stderr, /Uncaught|^\s+at /m, what);
      assert.equal(stderr.trimEnd().split("\n").length, 1, what);
      // One form for every command: `commucat: <command>: <message>`.
      assert.ok(stderr.startsWith(`commucat: ${command}: `), what);
      assert.match(stderr.trim(), pattern, what);
    });
    // A mistyped --db must not leave an empty database behind.
    await assert.rejects(Deno.stat(missing), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: client option parsers reject bad values as usage errors", () => {
  assert.equal(channelOption("5"), 5);
  assert.equal(channelOption("4294967295"), 4294967295);
  for (const bad of ["", "x", "-1", "1.5", "4294967296"]) {
    assert.throws(() => channelOption(bad), InvalidArgumentError, bad);
  }
  assert.equal(countOption("0"), 0);
  assert.throws(() => countOption("-1"), InvalidArgumentError);
  assert.equal(modeOption("websocket"), "websocket");
  assert.throws(() => modeOption("carrier-pigeon"), InvalidArgumentError);
});

Deno.test("cli: a failed fetch names the URL and the cause, with a hint for TLS trust", () => {
  const tls = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (https://h/api/server-info): client error (Connect): " +
        "invalid peer certificate: UnknownIssuer",
    ),
  });
  assert.equal(
    fetchFailure("https://h/api/server-info", tls).message,
    "cannot reach https://h/api/server-info: client error (Connect): invalid peer certificate: " +
      "UnknownIssuer (for a self-signed server certificate pass --tls-ca, e.g. var/tls/cert.pem)",
  );
  assert.equal(
    fetchFailure("https://h/x", new TypeError("Invalid URL")).message,
    "cannot reach https://h/x: Invalid URL",
  );
});
