import assert from "node:assert/strict";
import { startTestServer } from "../tests/helpers/inprocess.ts";
import { clientEnv, clientOk, initProfiles, MAIN } from "../tests/helpers/cli_client.ts";

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

/** An interactive `client connect --profile who` fed through a pipe, as a person types. */
function chat(home: string, who: string, ...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-all", MAIN, "client", "connect", "--profile", who, ...args],
    env: clientEnv(home),
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
      // The child may have exited (and closed its stdin) on /quit already.
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
  const run = (who: string, command: string, ...args: string[]) =>
    clientOk(home, who, command, ...args);
  try {
    await initProfiles(home, srv, "alice", "bob");
    // Profiles live in the user's config directory, private: never in the working directory.
    for (const who of ["alice", "bob"]) {
      const profile = await Deno.stat(`${home}/config/commucat/${who}/client.json`);
      assert.equal(profile.mode! & 0o777, 0o600, `${who}'s profile is private`);
      // The server's ML-DSA-65 key is pinned: later commands use the hybrid handshake.
      const saved = JSON.parse(
        await Deno.readTextFile(`${home}/config/commucat/${who}/client.json`),
      );
      assert.match(saved.server_pq_public, /^[0-9a-f]{3904}$/);
    }
    await run("bob", "listen", "--count", "0"); // registers bob
    assert.match(await run("alice", "friend", "bob"), /friend request sent to bob/);
    assert.match(await run("bob", "friend", "alice"), /accepted alice's friend request/);
    assert.match(await run("alice", "friends"), /^friend bob: devices bob-1$/m, "handles, not ids");

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

    // A one-shot `client send` on bob's profile takes the device's one session over (PROTOCOL.md
    // §4 `replaced`); bob's chat says so, reconnects, and keeps receiving.
    const sent = await run("bob", "send", "--channel", "5", "from", "the", "shell");
    assert.match(sent, /^sent on channel 5: routed .*frame sequence \d+ of this connection$/m);
    await alice.out.waitFor(/\[5\] bob: from the shell/, "alice hears the one-shot send");
    await bob.out.waitFor(/session taken over .*reconnecting in \d+ s/, "bob's chat notices");
    await bob.out.waitFor(/\* reconnected/, "bob's chat reconnects");
    await alice.type("/channel 5");
    await alice.type("still there?");
    await bob.out.waitFor(/\[5\] alice: still there\?/, "bob hears alice after reconnecting");

    // End to end by default (docs/PROTOCOL.md §8): the chats said so, and bob's joined alice's
    // MLS conversation; plaintext mode is available and visible as such on both sides.
    assert.match(alice.out.text, /\* end-to-end encrypted \(MLS, X-Wing\)/);
    assert.match(bob.out.text, /\* end-to-end conversation on channel 5 \(members: /);
    const plain = await run("bob", "send", "--plaintext", "--channel", "5", "plain", "words");
    assert.match(plain, /PLAINTEXT MODE/);
    await alice.out.waitFor(/\[5\] \(plaintext\) bob: plain words/, "alice sees plaintext as such");

    assert.equal(await alice.quit(), 0, alice.err.text);
    assert.equal(await bob.quit(), 0, bob.err.text);

    // Safety numbers: the same on both sides; each lists the other's device fingerprint.
    const aliceSafety = await run("alice", "safety", "bob");
    const bobSafety = await run("bob", "safety", "alice");
    const number = /safety number with \w+: ((?:\d{5} ){11}\d{5})/;
    assert.equal(number.exec(aliceSafety)?.[1], number.exec(bobSafety)?.[1], aliceSafety);
    assert.match(aliceSafety, /bob device bob-1: ([0-9a-f]{4} ){7}[0-9a-f]{4}/);
  } finally {
    await srv.stop();
    // Cleanup only: a leftover temp directory must not hide the test's own failure.
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
