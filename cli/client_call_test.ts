/**
 * `client call` and `client answer` against an in-process server: alice
 * sends a WAV file as RAW PCM, the server encodes it to Opus, bob writes
 * what arrives to an Ogg Opus file that `opusdec` decodes (skipped, loudly,
 * without opus-tools).
 */
import assert from "node:assert/strict";
import { startTestServer } from "../tests/helpers/inprocess.ts";
import { clientEnv, clientOk, initProfiles, MAIN } from "../tests/helpers/cli_client.ts";

/** A one-second 48 kHz mono 16-bit WAV of a 440 Hz tone. */
function wav(): Uint8Array {
  const samples = 48_000;
  const out = new Uint8Array(44 + samples * 2);
  const v = new DataView(out.buffer);
  const put = (at: number, s: string) => out.set(new TextEncoder().encode(s), at);
  put(0, "RIFF");
  v.setUint32(4, 36 + samples * 2, true);
  put(8, "WAVE");
  put(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, 48_000, true);
  v.setUint32(28, 96_000, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  put(36, "data");
  v.setUint32(40, samples * 2, true);
  for (let i = 0; i < samples; i++) {
    v.setInt16(44 + i * 2, Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48_000)), true);
  }
  return out;
}

let hasOpusdec = false;
try {
  hasOpusdec = new Deno.Command("opusdec", { args: ["-h"], stdout: "null", stderr: "null" })
    .outputSync().code !== 127;
} catch {
  hasOpusdec = false;
}
if (!hasOpusdec) console.warn("SKIPPED (the opusdec check only): opus-tools is not installed");

Deno.test("client call/answer: a WAV file goes through the server's Opus encoder to the listener", async () => {
  const srv = await startTestServer();
  const home = await Deno.makeTempDir({ prefix: "commucat-client-call-" });
  const run = (who: string, command: string, ...args: string[]) =>
    clientOk(home, who, command, ...args);
  try {
    await initProfiles(home, srv, "alice", "bob");
    await run("bob", "listen", "--count", "0");
    await run("alice", "friend", "bob");
    await run("bob", "friend", "alice");
    await Deno.writeFile(`${home}/in.wav`, wav());

    const answer = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-all",
        MAIN,
        "client",
        "answer",
        "--profile",
        "bob",
        "--out",
        `${home}/got.opus`,
      ],
      env: clientEnv(home),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // bob is connected once he says so; the offer would wait in his queue otherwise, too.
    const reader = answer.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let bobOut = "";
    while (!bobOut.includes("waiting for a call")) {
      const { value, done } = await reader.read();
      if (done) break;
      bobOut += value;
    }
    const sent = await run(
      "alice",
      "call",
      "--channel",
      "9",
      "--to",
      "bob-1",
      "--wav",
      `${home}/in.wav`,
      "--no-pace",
    );
    assert.match(sent, /sent 51 voice frames \(1020 ms\); call ended/);
    for (let r = await reader.read(); !r.done; r = await reader.read()) bobOut += r.value;
    const status = await answer.status;
    assert.equal(
      status.code,
      0,
      bobOut + new TextDecoder().decode(await new Response(answer.stderr).arrayBuffer()),
    );
    assert.match(bobOut, /received 51 voice frames; wrote .*got\.opus/);
    if (hasOpusdec) {
      const out = await new Deno.Command("opusdec", {
        args: ["--quiet", "--rate", "48000", "--force-wav", `${home}/got.opus`, `${home}/got.wav`],
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const decoded = await Deno.stat(`${home}/got.wav`);
      // 51 packets × 960 samples − 312 pre-skip, 16-bit mono, plus the WAV header.
      assert.ok(decoded.size >= (51 * 960 - 312) * 2, `decoded ${decoded.size} bytes`);
    }
  } finally {
    await srv.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
