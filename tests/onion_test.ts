/**
 * `commucat onion torrc`: the lines map the onion port to the configured
 * listener, Tor itself accepts them (`tor --verify-config`, offline), and a Tor
 * started on them with the network disabled creates the onion service's keys
 * and hostname. No Tor network is reachable here, so no client goes through
 * it. Tor's checks skip loudly without the `tor` binary.
 */
import assert from "node:assert/strict";
import { runOnionTorrc } from "../cli/pt.ts";

const torPresent = await new Deno.Command("sh", {
  args: ["-c", "command -v tor"],
  stdout: "null",
}).output().then((o) => o.success, () => false);
if (!torPresent) console.warn("SKIPPED: tor missing: the torrc is not checked by Tor");
const skip = torPresent ? "" : " (SKIPPED: tor missing)";

async function withConfig<T>(toml: string, fn: (path: string, dir: string) => Promise<T>) {
  const dir = await Deno.makeTempDir({ prefix: "commucat-onion-" });
  try {
    const path = `${dir}/commucat.toml`;
    await Deno.writeTextFile(path, `[server]\ndata_dir = "${dir}/var"\n${toml}`);
    return await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function torrc(options: Parameters<typeof runOnionTorrc>[0]): { code: number; out: string } {
  const out: string[] = [];
  const code = runOnionTorrc(options, { write: (t) => out.push(t), error: (l) => out.push(l) });
  return { code, out: out.join("") };
}

/** The torrc's directives (comments dropped) as [keyword, rest]. */
function directives(text: string): [string, string][] {
  return text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => {
      const [k, ...rest] = l.trim().split(/\s+/);
      return [k, rest.join(" ")];
    });
}

Deno.test("onion torrc: the onion port goes to server.bind (TLS) or server.h2c_bind (--plaintext)", async () => {
  await withConfig(`bind = "0.0.0.0:18443"\nh2c_bind = "127.0.0.1:18080"\n`, (config) => {
    const tls = torrc({ config, dir: "/var/lib/tor/commucat" });
    assert.equal(tls.code, 0, tls.out);
    assert.deepEqual(directives(tls.out), [
      ["HiddenServiceDir", "/var/lib/tor/commucat"],
      ["HiddenServiceVersion", "3"],
      ["HiddenServicePort", "443 127.0.0.1:18443"],
    ]);
    const plain = torrc({ config, dir: "/srv/hs dir", plaintext: true, port: 8080 });
    assert.equal(plain.code, 0, plain.out);
    assert.deepEqual(directives(plain.out), [
      ["HiddenServiceDir", '"/srv/hs dir"'],
      ["HiddenServiceVersion", "3"],
      ["HiddenServicePort", "8080 127.0.0.1:18080"],
    ]);
    return Promise.resolve();
  });
});

Deno.test("onion torrc: one-line errors (no h2c listener, a port chosen at random)", async () => {
  await withConfig(`bind = "127.0.0.1:0"\n`, (config) => {
    const noH2c = torrc({ config, dir: "/x", plaintext: true });
    assert.equal(noH2c.code, 1);
    assert.equal(
      noH2c.out,
      "commucat: onion torrc: --plaintext needs server.h2c_bind (the plaintext listener)",
    );
    const anyPort = torrc({ config, dir: "/x" });
    assert.equal(anyPort.code, 1);
    assert.match(anyPort.out, /^commucat: onion torrc: server\.bind has port 0: .*fixed port$/);
    return Promise.resolve();
  });
});

Deno.test({
  name: `tor --verify-config accepts the generated torrc (and rejects a broken one)${skip}`,
  ignore: !torPresent,
  async fn() {
    await withConfig(`bind = "[::]:18443"\n`, async (config, dir) => {
      const verify = async (file: string) => {
        const o = await new Deno.Command("tor", {
          args: ["--verify-config", "-f", file, "--DataDirectory", `${dir}/tor-data`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { ok: o.success, text: new TextDecoder().decode(o.stdout) };
      };
      const { code, out } = torrc({ config, dir: `${dir}/hs` });
      assert.equal(code, 0, out);
      assert.ok(out.includes("HiddenServicePort 443 [::1]:18443"), out);
      await Deno.writeTextFile(`${dir}/torrc`, out);
      const good = await verify(`${dir}/torrc`);
      assert.ok(good.ok && good.text.includes("Configuration was valid"), good.text);
      // Tor really checks: a target it cannot parse is refused.
      await Deno.writeTextFile(`${dir}/bad`, out.replaceAll("[::1]:18443", "[::1]:port"));
      const bad = await verify(`${dir}/bad`);
      assert.ok(!bad.ok, bad.text);
    });
  },
});

Deno.test({
  name: `a Tor started on the standalone torrc (network disabled) creates the onion service${skip}`,
  ignore: !torPresent,
  async fn() {
    await withConfig(`bind = "127.0.0.1:18443"\n`, async (config, dir) => {
      const { code, out } = torrc({ config, dir: `${dir}/hs`, standalone: `${dir}/tor-data` });
      assert.equal(code, 0, out);
      assert.deepEqual(directives(out).map(([k]) => k), [
        "DataDirectory",
        "SocksPort",
        "HiddenServiceDir",
        "HiddenServiceVersion",
        "HiddenServicePort",
      ]);
      await Deno.writeTextFile(`${dir}/torrc`, out);
      const tor = new Deno.Command("tor", {
        // No network here: Tor still creates the service's keys and hostname at start.
        args: ["-f", `${dir}/torrc`, "--DisableNetwork", "1", "--Log", "err stderr"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        let hostname = "";
        for (let i = 0; i < 200 && hostname === ""; i++) {
          hostname = await Deno.readTextFile(`${dir}/hs/hostname`).catch(() => "");
          if (hostname === "") await new Promise((r) => setTimeout(r, 50));
        }
        assert.match(hostname.trim(), /^[a-z2-7]{56}\.onion$/);
        const mode = (await Deno.stat(`${dir}/hs`)).mode! & 0o777;
        assert.equal(mode, 0o700);
      } finally {
        tor.kill("SIGTERM");
        await tor.status;
      }
    });
  },
});
