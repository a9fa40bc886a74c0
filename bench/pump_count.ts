/**
 * The user-space instructions a loopback pump adds per crossing, for
 * callgrind (bench/callgrind_gated.sh): a plaintext WebSocket echo server in
 * this process served three ways (`--pump none`: `Deno.serve` on the port
 * the clients dial; `minimal`: behind bench/load/relay_pump.ts's minimal
 * pump; `guarded`: behind CommuCat's `TcpListener` and `LoopbackEngine`
 * pump), and `--sockets` WebSocket clients in the same process playing
 * ping-pong: each round every client sends one `--bytes` message and waits
 * for its echo, so each message crosses the pump once each way, alone.
 * Kernel work is not in callgrind's count (bench/pump_floor.ts counts the
 * system calls); what differs between the pumps here is their own code, the
 * runtime's ops for their reads and writes, and the event-loop turns.
 *
 *   bench/callgrind_gated.sh bench/pump_count.ts --pump guarded --rounds 400
 *   scripts/deno run -A bench/pump_count.ts --pump minimal --rounds 2000   (wall time only)
 *
 * Per echo: (Ir at R2 rounds − Ir at R1 rounds) ÷ ((R2 − R1) × sockets).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { RELAY_PUMPS, type RelayPump, servePumped } from "./load/relay_pump.ts";
import { gate } from "./inprocess_harness.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    pump: { type: "string", default: "guarded" },
    rounds: { type: "string", default: "400" },
    warm: { type: "string", default: "200" },
    sockets: { type: "string", default: "10" },
    bytes: { type: "string", default: "100" },
    gate: { type: "string" },
  },
});
const pump = args.values.pump as RelayPump | "none";
if (pump !== "none" && !RELAY_PUMPS.includes(pump)) {
  throw new Error(`--pump: none or one of ${RELAY_PUMPS.join(", ")}`);
}
const ROUNDS = Number(args.values.rounds);
const WARM = Number(args.values.warm);
const SOCKETS = Number(args.values.sockets);
const payload = new Uint8Array(Number(args.values.bytes));

function echo(request: Request): Response {
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => socket.send(event.data);
  return response;
}

const port = pump === "none"
  ? Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, echo).addr.port
  : await servePumped(pump, {}, echo);

/** One client: `round()` sends a message and resolves on its echo. */
async function client(): Promise<{ round(): Promise<void>; close(): void }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let answered: (() => void) | null = null;
  socket.onmessage = () => answered?.();
  return {
    round: () =>
      new Promise<void>((resolve) => {
        answered = resolve;
        socket.send(payload);
      }),
    close: () => socket.close(),
  };
}

const clients = await Promise.all(Array.from({ length: SOCKETS }, client));
const rounds = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.all(clients.map((c) => c.round()));
};
await rounds(WARM);
if (args.values.gate) await gate(args.values.gate, "ready", "go", setTimeout);
const started = performance.now();
await rounds(ROUNDS);
const ms = performance.now() - started;
if (args.values.gate) await gate(args.values.gate, "done", "end", setTimeout);
console.log(
  `pump ${pump}: ${ROUNDS * SOCKETS} echoes in ${ms.toFixed(0)} ms (${
    (ms * 1000 / (ROUNDS * SOCKETS)).toFixed(1)
  } µs each, wall)`,
);
for (const c of clients) c.close();
Deno.exit(0);
