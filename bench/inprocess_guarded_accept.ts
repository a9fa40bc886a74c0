/**
 * New connections through the guarded accept path in one process, gated for
 * callgrind (`bench/callgrind_gated.sh bench/inprocess_guarded_accept.ts
 * --connections N`): a plaintext {@link TcpListener} (accept, connection caps,
 * first-request timer, loopback dial, the two pumps, the loopback
 * `Deno.serve`) answering `GET /` with 204, and a client that connects, sends
 * one HTTP/1.1 request, reads the answer and closes; the next connection
 * starts once the server saw the previous one end. What it prices is the
 * guarded mode's per-connection set-up and tear-down in user space (the
 * kernel's loopback work is not in a callgrind count); TLS, WebSocket and the
 * session are not in it.
 *
 *   scripts/deno run -A bench/inprocess_guarded_accept.ts [--connections 300]
 *   bench/callgrind_gated.sh bench/inprocess_guarded_accept.ts --connections 100 > a
 *   bench/callgrind_gated.sh bench/inprocess_guarded_accept.ts --connections 300 > b  # (b − a) / 200
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLogger } from "../src/server/mod.ts";
import { TcpListener } from "../src/transport/tls_tcp.ts";
import { gate as gateAt } from "./inprocess_harness.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "300" },
    warm: { type: "string", default: "200" },
    gate: { type: "string" },
  },
});
const CONNECTIONS = Number(args.values.connections);
const WARM = Number(args.values.warm);
const GATE = args.values.gate;

let ended: (() => void) | null = null;
let open = 0;
const listener = new TcpListener({
  configKey: "server.bind",
  hostname: "127.0.0.1",
  port: 0,
  firstRequestTimeoutMs: 10_000,
  admit: () => {
    open++;
    return {
      release() {
        open--;
        ended?.();
      },
    };
  },
  log: createLogger({ level: "error", format: "json", write: () => {} }),
});
listener.start({ handle: () => new Response(null, { status: 204 }) });
const port = listener.addr.port;
const request = new TextEncoder().encode(
  `GET / HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: close\r\n\r\n`,
);
const buf = new Uint8Array(1024);

async function one(): Promise<void> {
  const done = new Promise<void>((resolve) => (ended = resolve));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(request);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  if (!text.startsWith("HTTP/1.1 204")) throw new Error(`unexpected answer: ${text.slice(0, 40)}`);
  conn.close();
  await done;
}

for (let i = 0; i < WARM; i++) await one();
if (GATE) await gateAt(GATE, "ready", "go", setTimeout);
const t0 = performance.now();
for (let i = 0; i < CONNECTIONS; i++) await one();
const ms = performance.now() - t0;
if (GATE) await gateAt(GATE, "done", "end", setTimeout);
console.log(
  JSON.stringify({
    connections: CONNECTIONS,
    open,
    usEach: Number((ms * 1000 / CONNECTIONS).toFixed(1)),
  }),
);
await listener.shutdown();
Deno.exit(0);
