/**
 * Noise costs: a full XK handshake (both sides), transport encrypt+decrypt
 * at three sizes, and a bare X25519, each on the native and noble backends.
 *
 * Run: `scripts/deno bench --allow-read bench/noise_bench.ts`
 */

import {
  type Backend,
  createHandshake,
  generateKeyPair,
  MAX_TRANSPORT_PLAINTEXT,
  type NoiseTransport,
} from "../src/crypto/noise/mod.ts";
import { nativeX25519 } from "../src/crypto/noise/native.ts";
import { nobleX25519 } from "../src/crypto/noise/noble.ts";

const XK = "Noise_XK_25519_ChaChaPoly_BLAKE2s";
const BACKENDS: Backend[] = ["native", "noble"];
const client = generateKeyPair();
const server = generateKeyPair();

function xkHandshake(backend: Backend): [NoiseTransport, NoiseTransport] {
  const initiator = createHandshake({
    protocolName: XK,
    initiator: true,
    staticPrivate: client.privateKey,
    remoteStatic: server.publicKey,
    backend,
  });
  const responder = createHandshake({
    protocolName: XK,
    initiator: false,
    staticPrivate: server.privateKey,
    backend,
  });
  responder.readMessage(initiator.writeMessage());
  initiator.readMessage(responder.writeMessage());
  responder.readMessage(initiator.writeMessage());
  return [initiator.split(), responder.split()];
}

for (const backend of BACKENDS) {
  Deno.bench({
    name: `XK handshake, both sides (${backend})`,
    group: "handshake",
    baseline: backend === "native",
    fn: () => {
      xkHandshake(backend);
    },
  });
}

const SIZES: [string, number][] = [["100 B", 100], ["1 KiB", 1024], [
  "64 KiB-16",
  MAX_TRANSPORT_PLAINTEXT,
]];

for (const [label, size] of SIZES) {
  const plaintext = crypto.getRandomValues(new Uint8Array(size));
  for (const backend of BACKENDS) {
    const [a, b] = xkHandshake(backend);
    Deno.bench({
      name: `transport encrypt+decrypt ${label} (${backend})`,
      group: `transport ${label}`,
      baseline: backend === "native",
      fn: () => {
        b.decrypt(a.encrypt(plaintext));
      },
    });
  }
}

const peer = generateKeyPair().publicKey;
for (const [backend, dh] of [["native", nativeX25519], ["noble", nobleX25519]] as const) {
  const pair = dh.generateKeyPair();
  Deno.bench({
    name: `X25519 DH (${backend})`,
    group: "x25519",
    baseline: backend === "native",
    fn: () => {
      dh.dh(pair, peer);
    },
  });
}
