/**
 * A fixed number of full Noise XK handshakes (both sides, native backend) and
 * nothing else, for instruction counts: run it under `valgrind --tool=callgrind`
 * at two counts and divide the difference by the difference of the counts,
 * which leaves out start-up and warm-up. Prints the CPU-µs per handshake too
 * (noisy on a shared machine; the instruction count is the figure to compare).
 *
 *   scripts/deno run --allow-all bench/noise_xk_count.ts [--handshakes 2000]
 *
 * @module
 */
import process from "node:process";
import { createHandshake, generateKeyPair } from "../src/crypto/noise/mod.ts";

const XK = "Noise_XK_25519_ChaChaPoly_BLAKE2s";
const i = Deno.args.indexOf("--handshakes");
const count = i >= 0 ? Number(Deno.args[i + 1]) : 2000;
const client = generateKeyPair();
const server = generateKeyPair();
const payload = new Uint8Array(200);

function handshake(): void {
  const initiator = createHandshake({
    protocolName: XK,
    initiator: true,
    staticPrivate: client.privateKey,
    remoteStatic: server.publicKey,
  });
  const responder = createHandshake({
    protocolName: XK,
    initiator: false,
    staticPrivate: server.privateKey,
  });
  responder.readMessage(initiator.writeMessage(payload));
  initiator.readMessage(responder.writeMessage(payload));
  responder.readMessage(initiator.writeMessage(payload));
  initiator.split();
  responder.split();
}

for (let n = 0; n < 300; n++) handshake(); // warm-up: JIT
const start = process.cpuUsage();
for (let n = 0; n < count; n++) handshake();
const spent = process.cpuUsage(start);
console.log(
  `${((spent.user + spent.system) / count).toFixed(1)} CPU-µs per XK handshake (both sides)`,
);
