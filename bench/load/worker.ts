/**
 * A load agent in its own process, so the client side can use more than one
 * core. Reads one JSON command per stdin line (`{id, command}`) and answers
 * on stdout with `{id, progress}` lines and one `{id, result}` or
 * `{id, error}` line. Started by fleet.ts; not meant to be run by hand.
 *
 * @module
 */
import { type AgentCommand, LoadAgent } from "./agent.ts";

const encoder = new TextEncoder();
const out = Deno.stdout;

function reply(message: unknown): void {
  const bytes = encoder.encode(JSON.stringify(message) + "\n");
  let written = 0;
  while (written < bytes.length) written += out.writeSync(bytes.subarray(written));
}

if (import.meta.main) {
  // `deno-nodelay` is `deno` here: the TCP_NODELAY shim is in this process's LD_PRELOAD.
  const agent = new LoadAgent({
    webSocket: Deno.args.includes("--websocket=nodelay") ? "nodelay" : "deno",
  });
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (!line.trim()) continue;
      const { id, command } = JSON.parse(line) as { id: number; command: AgentCommand };
      let last = 0;
      agent.run(command, (done, failed) => {
        const now = performance.now();
        if (now - last < 200) return;
        last = now;
        reply({ id, progress: [done, failed] });
      }).then(
        (result) => reply({ id, result }),
        (error) => reply({ id, error: error instanceof Error ? error.message : String(error) }),
      );
    }
  }
  agent.close();
  Deno.exit(0);
}
