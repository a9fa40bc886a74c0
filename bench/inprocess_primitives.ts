/**
 * The primitives of one XK + ZKP handshake, both sides, gated for callgrind
 * (`bench/callgrind_gated.sh bench/inprocess_primitives.ts --rounds N`), so
 * the instructions of `bench/inprocess_handshakes.ts` (server and SDK client
 * in one process) can be split into primitives and the rest:
 *
 * - `--side server`: the bound of bench/load/primitives.ts (three X25519
 *   DH, the device-key ZKP verify, one certificate issue) and the ephemeral
 *   key pair, which that bound leaves out;
 * - `--side client`: an ephemeral key pair, three X25519 DH, the client
 *   static key imported from its scalar (a new device's key each time) and
 *   the ZKP proof (noble).
 *
 * Each round uses new peer keys (made before the gate), as handshakes do.
 *
 *   bench/callgrind_gated.sh bench/inprocess_primitives.ts --side server --rounds 100
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  generateDeviceKeys,
  issueCertificate,
  proveDeviceKey,
  verifyDeviceKeyProof,
  zkpContext,
} from "../src/crypto/mod.ts";
import { nativeX25519 } from "../src/crypto/noise/native.ts";
import { gate as gateAt } from "./inprocess_harness.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    side: { type: "string", default: "server" },
    rounds: { type: "string", default: "100" },
    gate: { type: "string" },
  },
});
const SIDE = args.values.side;
const ROUNDS = Number(args.values.rounds);
const GATE = args.values.gate;

interface Round {
  peerEphemeral: Uint8Array;
  peerStatic: Uint8Array;
  device: { privateKey: Uint8Array; publicKey: Uint8Array };
  clientScalar: Uint8Array;
  context: Uint8Array;
  proof: { commitment: Uint8Array; response: Uint8Array };
}

function makeRound(): Round {
  const device = generateDeviceKeys();
  const client = nativeX25519.generateKeyPair();
  const context = zkpContext("localhost", "bench-device", device.publicKey, client.publicKey);
  return {
    peerEphemeral: nativeX25519.generateKeyPair().publicKey,
    peerStatic: client.publicKey,
    device,
    clientScalar: client.privateKey.slice(),
    context,
    proof: proveDeviceKey({ privateSeed: device.privateKey, publicKey: device.publicKey, context }),
  };
}

const serverStatic = nativeX25519.generateKeyPair();
const ca = generateDeviceKeys();
const now = Math.floor(Date.now() / 1000);

function server(r: Round): void {
  nativeX25519.dh(serverStatic, r.peerEphemeral); // es
  const e = nativeX25519.generateKeyPair();
  nativeX25519.dh(e, r.peerEphemeral); // ee
  nativeX25519.dh(e, r.peerStatic); // se
  if (!verifyDeviceKeyProof({ publicKey: r.device.publicKey, context: r.context, ...r.proof })) {
    throw new Error("ZKP did not verify");
  }
  issueCertificate({
    caSeed: ca.privateKey,
    userId: "bench-user",
    deviceId: "bench-device",
    publicKey: r.device.publicKey,
    now,
  });
}

function client(r: Round): void {
  const s = nativeX25519.keyPairFromPrivate(r.clientScalar);
  const e = nativeX25519.generateKeyPair();
  nativeX25519.dh(e, serverStatic.publicKey); // es
  nativeX25519.dh(e, r.peerEphemeral); // ee
  nativeX25519.dh(s, r.peerEphemeral); // se
  proveDeviceKey({
    privateSeed: r.device.privateKey,
    publicKey: r.device.publicKey,
    context: r.context,
  });
}

const run = SIDE === "client" ? client : server;
for (let i = 0; i < 50; i++) run(makeRound()); // warm-up: JIT, lazy imports
const rounds = Array.from({ length: ROUNDS }, makeRound);
if (GATE) await gateAt(GATE, "ready", "go", setTimeout);
const t0 = performance.now();
for (const r of rounds) run(r);
const ms = performance.now() - t0;
if (GATE) await gateAt(GATE, "done", "end", setTimeout);
console.log(
  JSON.stringify({ side: SIDE, rounds: ROUNDS, usEach: Number((ms * 1000 / ROUNDS).toFixed(1)) }),
);
