/**
 * `commucat client connect --paths ws,binary,sse`: a multipath chat shows its
 * paths as they come up; a bad `--paths` or `--fec` is a one-line usage error.
 */
import assert from "node:assert/strict";
import { startTestServer } from "../tests/helpers/inprocess.ts";
import { clientEnv, MAIN, runClient } from "../tests/helpers/cli_client.ts";

Deno.test("client connect --paths: three paths come up and the chat works over them", async () => {
  const srv = await startTestServer();
  const home = await Deno.makeTempDir({ prefix: "commucat-paths-" });
  try {
    await Deno.writeTextFile(`${home}/cert.pem`, srv.certificatePem);
    const init = await runClient(
      home,
      "init",
      "--profile",
      "alice",
      "--server",
      srv.url,
      "--username",
      "alice",
      "--tls-ca",
      `${home}/cert.pem`,
      "--device-id",
      "alice-1",
    );
    assert.equal(init.code, 0, init.text);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--allow-all",
        MAIN,
        "client",
        "connect",
        "--profile",
        "alice",
        "--plaintext",
        "--paths",
        "ws,binary,sse",
      ],
      env: clientEnv(home),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    let text = "";
    const reading = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
    })();
    const errText = new Response(child.stderr).text();
    const waitFor = async (pattern: RegExp) => {
      const deadline = Date.now() + 60_000;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`${pattern} never appeared:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitFor(/\* paths: websocket up, binary up, sse up/);
    await writer.write(new TextEncoder().encode("/join 5\n"));
    await waitFor(/joined 5/);
    await writer.write(new TextEncoder().encode("/quit\n"));
    await writer.close().catch(() => {});
    const { code } = await child.status;
    await reading;
    assert.equal(code, 0, await errText);
  } finally {
    await srv.stop();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("client connect: a bad --paths or --fec is a one-line usage error", async () => {
  const home = await Deno.makeTempDir({ prefix: "commucat-paths-" });
  try {
    const paths = await runClient(home, "connect", "--paths", "ws,pigeon");
    assert.equal(paths.code, 1);
    assert.match(paths.text, /unknown mode "pigeon"/);
    const fec = await runClient(home, "connect", "--paths", "ws,sse", "--fec", "raptorq:9");
    assert.equal(fec.code, 1);
    assert.match(fec.text, /fec overhead must be a number in 0\.\.4/);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
