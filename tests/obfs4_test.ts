/**
 * Tor pluggable transports with the real obfs4proxy on both sides: the server
 * runs it as a managed child on `transport.pt.bind` and takes its connections
 * through the Extended ORPort; the SDK runs it as a client child and reaches
 * the server through its SOCKS5 port with the bridge arguments. A handshake
 * and a chat go through; a wrong bridge cert gets nothing, and the server
 * keeps serving. Skipped loudly without obfs4proxy.
 */
import assert from "node:assert/strict";
import { CommuCatClient, connectThroughTransports, NoTransportError } from "../src/client/mod.ts";
import { PtClientTransport, transportsFromSpecs } from "../src/client/transports/mod.ts";
import { runBridgeLine } from "../cli/pt.ts";
import { silentLogger } from "../src/log/mod.ts";
import { generateSelfSignedCertificate } from "../src/security/tls/mod.ts";
import { formatPtArgs, PtListener, type PtListenerOptions } from "../src/transport/pt/mod.ts";
import { UNCOUNTED_SLOT } from "../src/transport/listener.ts";
import { fromUtf8 } from "../src/crypto/mod.ts";
import { FrameType } from "../src/proto/mod.ts";
import { api, befriend } from "./helpers/api.ts";
import { connectOptions, newDevice } from "./helpers/devices.ts";
import { startTestServer, type TestServer } from "./helpers/inprocess.ts";
import { within } from "./helpers/raw.ts";

const OBFS4PROXY = "obfs4proxy";
const ADMIN_TOKEN = "pt-test-admin-token-0123456789";
const present = await new Deno.Command("sh", {
  args: ["-c", `command -v ${OBFS4PROXY}`],
  stdout: "null",
}).output().then((o) => o.success, () => false);
if (!present) console.warn("SKIPPED: obfs4proxy missing: pluggable-transport tests skip");
const skip = present ? "" : " (SKIPPED: obfs4proxy missing)";

async function withPtServer(
  fn: (srv: TestServer) => Promise<void>,
  options?: string,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "commucat-pt-test-" });
  const srv = await startTestServer({
    dataDir,
    adminToken: ADMIN_TOKEN,
    pt: {
      hostname: "127.0.0.1",
      port: 0,
      binary: OBFS4PROXY,
      transport: "obfs4",
      stateDir: `${dataDir}/pt`,
      options,
    },
  });
  try {
    await fn(srv);
  } finally {
    await srv.stop();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

/** Sends `text` from one client and waits for it at the other. */
async function pass(from: CommuCatClient, to: CommuCatClient, text: string): Promise<void> {
  await within(from.send(7, text), `the Ack for ${text}`);
  const got = await within(to.next(), `${text} to arrive`);
  assert.ok(got);
  assert.equal(got.type, FrameType.Msg);
  assert.equal(fromUtf8(got.payload), text);
}

Deno.test({
  name:
    `obfs4proxy server child → Extended ORPort → /connect; SDK through an obfs4proxy client chats${skip}`,
  ignore: !present,
  async fn() {
    await withPtServer(async (srv) => {
      const pt = srv.server.pt!;
      assert.ok(pt.addr.port > 0 && pt.addr.port !== srv.server.addr.port);
      assert.match(pt.bridgeArgs, /^cert=[A-Za-z0-9+/]{70};iat-mode=0$/);
      // obfs4proxy writes its own bridge line beside its keys, with the same cert.
      const bridgeLine = await Deno.readTextFile(`${srv.dataDir}/pt/obfs4_bridgeline.txt`);
      assert.ok(bridgeLine.includes(pt.bridgeArgs.split(";")[0]));

      // The admin's view: `commucat pt bridge-line` prints the client's transport entry.
      const configPath = `${srv.dataDir}/commucat.toml`;
      await Deno.writeTextFile(
        configPath,
        `[server]\ndata_dir = "${srv.dataDir}"\ndomain = "127.0.0.1"\n` +
          `[transport.pt]\nbind = "127.0.0.1:0"\n`,
      );
      const out: string[] = [];
      const code = await runBridgeLine({ config: configPath }, {
        write: (t) => out.push(t),
        error: (l) => out.push(l),
      });
      assert.equal(code, 0, out.join(""));
      const printed = out.join("");
      assert.ok(printed.startsWith(`obfs4 127.0.0.1:${pt.addr.port} ${pt.bridgeArgs}\n`), printed);
      const entry = JSON.parse(/client transport entry: (.*)/.exec(printed)![1]);
      assert.deepEqual(entry, { kind: "obfs4", port: pt.addr.port, args: pt.bridgeArgs });
      const [obfs4] = transportsFromSpecs([{ ...entry, host: "127.0.0.1" }]);
      const tunneledDevice = newDevice("obfs4");
      const directDevice = newDevice("direct");
      const metricsClient = Deno.createHttpClient({ caCerts: [srv.certificatePem] });
      const result = await within(
        connectThroughTransports(connectOptions(srv, tunneledDevice), [obfs4]),
        "the handshake through obfs4",
        30_000,
      );
      const tunneled = result.client;
      // The route went to the PT's port: only obfs4proxy listens there.
      assert.equal(new URL(result.route.url).port, String(pt.addr.port));
      const direct = await within(
        CommuCatClient.connect(connectOptions(srv, directDevice)),
        "direct",
      );
      try {
        await within(befriend(srv, tunneled, direct), "the friendship");
        await within(tunneled.join(7, [directDevice.deviceId]), "the join");
        await pass(tunneled, direct, "through obfs4");
        await pass(direct, tunneled, "back through obfs4");
        // /api/p2p/assist reports the PT listener (its port, never the cert).
        const assist = await api(srv, "GET", "/api/p2p/assist", { as: direct });
        assert.equal(assist.status, 200, assist.text);
        const offered = (assist.body!.transports as Record<string, unknown>[])
          .find((t) => t.kind === "obfs4");
        assert.equal(offered?.port, pt.addr.port);
        assert.equal(offered?.resistance, "Maximum");
        assert.ok(!assist.text.includes(pt.bridgeArgs.split(";")[0].slice(5)), "no cert in assist");
        // Metrics: the child runs, and the tunneled connections were served.
        const scraped = await fetch(`${srv.url}/metrics`, {
          client: metricsClient,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        }).then((r) => r.text());
        assert.match(scraped, /^commucat_pt_child_up 1$/m);
        const served = /^commucat_pt_connections_total\{outcome="served"\} (\d+)$/m.exec(scraped);
        assert.ok(served && Number(served[1]) >= 1, scraped);
      } finally {
        tunneled.close();
        direct.close();
        await within(Promise.all([tunneled.finished, direct.finished]), "the clients to close");
        await result.route.close();
        metricsClient.close();
      }
    });
  },
});

Deno.test({
  name: `a wrong bridge cert gets nothing; the PT listener keeps serving the right one${skip}`,
  ignore: !present,
  async fn() {
    await withPtServer(async (srv) => {
      const pt = srv.server.pt!;
      // A well-formed cert of another bridge: 20-byte node id ‖ 32-byte public key.
      const other = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(52))))
        .replace(/=+$/, "");
      const wrong = new PtClientTransport({
        host: "127.0.0.1",
        port: pt.addr.port,
        args: `cert=${other};iat-mode=0`,
      });
      const attempts: string[] = [];
      await assert.rejects(
        connectThroughTransports(connectOptions(srv, newDevice("wrong")), [wrong], {
          attemptTimeoutMs: 4_000,
          onAttempt: (a) => attempts.push(`${a.ok}:${a.signal}`),
        }),
        NoTransportError,
      );
      assert.equal(attempts.length, 1);
      assert.match(attempts[0], /^false:/);
      const right = new PtClientTransport({
        host: "127.0.0.1",
        port: pt.addr.port,
        args: pt.bridgeArgs,
      });
      const result = await within(
        connectThroughTransports(connectOptions(srv, newDevice("right")), [right]),
        "the right cert's handshake",
        30_000,
      );
      result.client.close();
      await within(result.client.finished, "the client to close");
      await result.route.close();
    });
  },
});

/** A PT listener on its own (no CommuCat app): a sink answering who asked. */
async function openListener(
  stateDir: string,
  port: number,
  admit: PtListenerOptions["admit"],
  drops: string[],
  serverOptions?: string,
  events: string[] = [],
) {
  const cert = await generateSelfSignedCertificate({
    commonName: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const listener = await PtListener.open({
    configKey: "transport.pt",
    binary: OBFS4PROXY,
    transport: "obfs4",
    bind: { hostname: "127.0.0.1", port },
    stateDir,
    tls: { cert: cert.certPem, key: cert.keyPem },
    firstRequestTimeoutMs: 10_000,
    admit,
    log: silentLogger,
    onDrop: (reason) => drops.push(reason),
    serverOptions,
    observer: {
      childUp: (up) => events.push(up ? "up" : "down"),
      restarted: () => events.push("restarted"),
      connection: (outcome) => events.push(outcome),
    },
  });
  listener.start({
    handle: (_request, info) => new Response(`hello ${(info.remoteAddr as Deno.NetAddr).hostname}`),
  });
  return { listener, caCerts: [cert.certPem] };
}

/** GET / through an obfs4proxy client with `args`; the body, or the failure. */
async function getThrough(port: number, args: string, caCerts: string[]): Promise<string> {
  const route = await new PtClientTransport({ host: "127.0.0.1", port, args }).open({
    url: "https://127.0.0.1",
    caCerts,
    signal: new AbortController().signal,
  });
  try {
    const response = await fetch(`${route.url}/`, {
      client: route.httpClient,
      signal: AbortSignal.timeout(5_000),
    });
    return await response.text();
  } finally {
    await route.close();
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test({
  name: `the PT child is restarted when it dies, and the bridge line stays valid${skip}`,
  ignore: !present,
  async fn() {
    const stateDir = await Deno.makeTempDir({ prefix: "commucat-pt-restart-" });
    const port = freePort();
    const events: string[] = [];
    const { listener, caCerts } = await openListener(
      stateDir,
      port,
      () => UNCOUNTED_SLOT,
      [],
      undefined,
      events,
    );
    try {
      const args = formatPtArgs(listener.bridgeArgs);
      assert.equal(await getThrough(port, args, caCerts), "hello 127.0.0.1");
      const first = listener.pid;
      Deno.kill(first, "SIGKILL");
      // The listener notices the exit and starts a new child on the same port and keys.
      for (let i = 0; listener.pid === first; i++) {
        assert.ok(i < 200, "no new PT child within 10 s");
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(formatPtArgs(listener.bridgeArgs), args);
      assert.equal(await getThrough(port, args, caCerts), "hello 127.0.0.1");
      // What the metrics see: up, a served connection, down, a restart, up, served again.
      assert.deepEqual(events, ["up", "served", "down", "restarted", "up", "served"]);
    } finally {
      await listener.shutdown();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    `connection caps apply to the client the PT names: a refused one gets DENY, nothing else${skip}`,
  ignore: !present,
  async fn() {
    const stateDir = await Deno.makeTempDir({ prefix: "commucat-pt-caps-" });
    const seen: string[] = [];
    const drops: string[] = [];
    const { listener, caCerts } = await openListener(stateDir, 0, (remote) => {
      seen.push(remote.hostname);
      return "per_client";
    }, drops);
    try {
      await assert.rejects(
        getThrough(listener.addr.port, formatPtArgs(listener.bridgeArgs), caCerts),
      );
      // The cap was asked about the client obfs4proxy saw (USERADDR), not the loopback hop.
      assert.deepEqual(seen, ["127.0.0.1"]);
      assert.deepEqual(drops, ["per_client"]);
    } finally {
      await listener.shutdown();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    `the terminal client (the commucat task's permissions) chats through an obfs4 profile entry${skip}`,
  ignore: !present,
  async fn() {
    await withPtServer(async (srv) => {
      const pt = srv.server.pt!;
      const home = await Deno.makeTempDir({ prefix: "commucat-cli-obfs4-" });
      const main = new URL("../main.ts", import.meta.url).pathname;
      // Exactly the flags of `deno task commucat`: the obfs4 client child must be allowed there.
      const tasks = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)))
        .tasks as Record<string, string>;
      const flags = tasks.commucat.split(/\s+/).filter((w) => w.startsWith("--"));
      const command = (who: string, args: string[], tunneled: boolean) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", ...(tunneled ? flags : ["--allow-all"]), main, "client", ...args],
          env: { COMMUCAT_CLIENT_HOME: `${home}/${who}`, NO_COLOR: "1" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        });
      const run = async (who: string, ...args: string[]) => {
        const out = await command(who, args, who === "alice").output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 0, text);
        return text;
      };
      try {
        for (const who of ["alice", "bob"]) {
          await run(
            who,
            ...["init", "--server", srv.url, "--username", who],
            ...["--tls-ca", srv.server.certificatePath, "--device-id", `${who}-dev`],
          );
        }
        const entry = { kind: "obfs4", host: "127.0.0.1", port: pt.addr.port, args: pt.bridgeArgs };
        await run("alice", "transports", "--set", JSON.stringify([entry]));
        await run("bob", "listen", "--count", "0");
        const asked = await run("alice", "friend", "bob");
        assert.match(asked, /friend request sent to bob/);
        assert.match(
          asked,
          new RegExp(`transport obfs4 127\\.0\\.0\\.1:${pt.addr.port}: connected`),
        );
        assert.match(await run("bob", "friend", "alice"), /accepted alice's friend request/);
        const listener = command("bob", ["listen", "--count", "1"], false).spawn();
        const sent = await run(
          "alice",
          "send",
          "--channel",
          "5",
          "--to",
          "bob-dev",
          "via",
          "obfs4",
        );
        assert.match(sent, /^sent on channel 5: routed /m);
        const heard = new TextDecoder().decode((await listener.output()).stdout);
        assert.match(heard, /\[5\] alice: via obfs4/);
      } finally {
        await Deno.remove(home, { recursive: true }).catch(() => {});
      }
    });
  },
});

Deno.test({
  name:
    `a wrong cert never reaches the server: the PT forwards nothing; iat-mode=1 reaches the PT${skip}`,
  ignore: !present,
  async fn() {
    const stateDir = await Deno.makeTempDir({ prefix: "commucat-pt-iat-" });
    const admitted: string[] = [];
    const { listener, caCerts } = await openListener(
      stateDir,
      0,
      (remote) => {
        admitted.push(remote.hostname);
        return UNCOUNTED_SLOT;
      },
      [],
      "iat-mode=1",
    );
    try {
      // TOR_PT_SERVER_TRANSPORT_OPTIONS took effect: the bridge line and the descriptor say so.
      assert.equal(listener.bridgeArgs.get("iat-mode"), "1");
      assert.equal(listener.describe().throughput, "Low");
      const other = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(52))))
        .replace(/=+$/, "");
      await assert.rejects(getThrough(listener.addr.port, `cert=${other};iat-mode=1`, caCerts));
      assert.deepEqual(admitted, [], "nothing was forwarded for the wrong cert");
      const args = formatPtArgs(listener.bridgeArgs);
      assert.equal(await getThrough(listener.addr.port, args, caCerts), "hello 127.0.0.1");
      assert.deepEqual(admitted, ["127.0.0.1"]);
    } finally {
      await listener.shutdown();
      await Deno.remove(stateDir, { recursive: true });
    }
  },
});

Deno.test("obfs4 / pt transport entries: one-line errors naming the field", () => {
  const error = (spec: Record<string, unknown>) => {
    try {
      transportsFromSpecs([{ kind: "direct" }, spec as { kind: string }]);
      return "no error";
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.equal(
    error({ kind: "obfs4", args: "cert=x;iat-mode=0" }),
    "transports[1].port: required (the bridge's port, 1..65535)",
  );
  assert.equal(
    error({ kind: "obfs4", port: 9443 }),
    "transports[1].args: required (a non-empty string)",
  );
  assert.equal(
    error({ kind: "pt", port: 9443, args: "cert=x" }),
    "transports[1].transport: required (a non-empty string)",
  );
  assert.match(error({ kind: "obfs4", port: 9443, args: "garbage" }), /^transports\[1\]: args: /);
  const [, built] = transportsFromSpecs([{ kind: "direct" }, {
    kind: "pt",
    transport: "lyrebird_obfs4",
    port: 9443,
    args: "cert=x",
  }]);
  assert.equal(built.kind, "lyrebird_obfs4");
  assert.equal(built.label, "lyrebird_obfs4 <server>:9443");
});
