import assert from "node:assert/strict";
import { startTestServer } from "../tests/helpers/inprocess.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Collects a stream's text and waits for a pattern in it. */
class Transcript {
  text = "";
  #waiters: (() => void)[] = [];
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.text += chunk;
        for (const wake of this.#waiters.splice(0)) wake();
      }
      for (const wake of this.#waiters.splice(0)) wake();
    })();
  }

  /** Resolves once `pattern` has appeared; a safety cap (not a speed check) turns a hang into a failure. */
  async waitFor(pattern: RegExp, what: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    let ended = false;
    this.done.then(() => ended = true);
    while (!pattern.test(this.text)) {
      if (ended || Date.now() > deadline) {
        throw new Error(`${what}: ${pattern} never appeared; output:\n${this.text}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** An interactive `client connect` fed through a pipe, as a person types in a terminal. */
function chat(home: string, who: string, ...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, "client", "connect", ...args],
    env: { COMMUCAT_CLIENT_HOME: `${home}/${who}`, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const out = new Transcript(child.stdout);
  const err = new Transcript(child.stderr);
  return {
    out,
    err,
    type: (line: string) => writer.write(new TextEncoder().encode(line + "\n")),
    async quit(): Promise<number> {
      await writer.write(new TextEncoder().encode("/quit\n"));
      await writer.close().catch(() => {});
      const { code } = await child.status;
      await Promise.all([out.done, err.done]);
      return code;
    },
  };
}

Deno.test("client: the README's two-terminal chat works as written", async () => {
  const srv = await startTestServer();
  const home = await Deno.makeTempDir({ prefix: "commucat-readme-chat-" });
  const run = async (who: string, ...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-all", MAIN, "client", ...args],
      env: { COMMUCAT_CLIENT_HOME: `${home}/${who}`, NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `client ${args.join(" ")}:\n${text}`);
    return text;
  };
  try {
    const ca = `${home}/cert.pem`;
    await Deno.writeTextFile(ca, srv.certificatePem);
    for (const who of ["alice", "bob"]) {
      await run(
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
    await run("bob", "listen", "--count", "0"); // registers bob
    assert.match(await run("alice", "friend", "bob"), /friend request sent to bob/);
    assert.match(await run("bob", "friend", "alice"), /accepted alice's friend request/);

    // terminal 1: bob waits on channel 5; terminal 2: alice opens it with bob's device.
    const bob = chat(home, "bob", "--channel", "5");
    await bob.out.waitFor(/connected as bob/, "bob connects");
    const alice = chat(home, "alice");
    await alice.out.waitFor(/connected as alice/, "alice connects");
    await alice.type("/join 5 bob-1");
    await alice.out.waitFor(/joined 5/, "alice joins 5 with bob-1");
    await alice.type("hello bob");
    await bob.out.waitFor(/\[5\] alice: hello bob/, "bob hears alice");
    await bob.type("hi alice");
    await alice.out.waitFor(/\[5\] bob: hi alice/, "alice hears bob");

    // The order the README warns about: a channel bob created alone cannot take alice in.
    await bob.type("/join 6");
    await bob.out.waitFor(/joined 6/, "bob creates 6");
    await alice.type("/join 6 bob-1");
    await alice.err.waitFor(/! not_member: channel 6 exists/, "alice refused on 6");

    assert.equal(await alice.quit(), 0, alice.err.text);
    assert.equal(await bob.quit(), 0, bob.err.text);
  } finally {
    await srv.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
