/**
 * The raw baseline: a `Deno.serve` WebSocket relay with no crypto and no
 * framing. A socket joins the group named by `?group=`; every binary message
 * goes unchanged to the group's other sockets (with `?echo=1`, back to its
 * sender instead: the connect-floor storm, connect_floor.ts). With `?acks=1` it
 * also does what CommuCat's 1:1 path does on the wire besides forwarding:
 * every forwarded message is answered with a {@link RELAY_ACK_LENGTH}-byte ack
 * to its sender (the server's Ack), and messages of exactly that length are
 * the receivers' delivery acks, taken and dropped — the same WebSocket
 * messages per delivery, with no crypto, framing or storage. For the idle
 * memory floor, `?idle=<s>` upgrades with that `idleTimeout` (CommuCat's
 * ping/pong liveness; default 0, off) and `?replies=<n>,<n>…` answers the
 * socket's first messages with messages of those sizes (the handshake's,
 * {@link IDLE_EXCHANGE}). Prints `relay listening on <port>` once ready.
 *
 * Run: `deno run --allow-net bench/load/relay_server.ts [cert.pem key.pem] [--pump=minimal]`
 * (with a certificate it serves TLS, to price TLS separately from CommuCat;
 * with `--pump`, behind a raw TCP → loopback pump: the guarded accept path's
 * floor, relay_pump.ts).
 *
 * @module
 */

import { RELAY_PUMPS, type RelayPump, servePumped } from "./relay_pump.ts";

/** Length of the relay's acks and of the receivers' delivery acks (`?acks=1`); data is longer. */
export const RELAY_ACK_LENGTH = 24;
const ACK = new Uint8Array(RELAY_ACK_LENGTH);

/**
 * What an idle CommuCat client exchanges after its upgrade, in WebSocket
 * message sizes: the XK handshake of the load tool's idle phase (measured on
 * the wire, PQ "prefer": Hello 606 B, answer 1,204 B, Auth 151 B, Ack 2,066
 * B). The memory floor's idle sockets send and receive the same, so TLS and
 * WebSocket buffers that grow with the first traffic count in the floor, not
 * as ours.
 */
export const IDLE_EXCHANGE: readonly { send: number; reply: number }[] = [
  { send: 606, reply: 1204 },
  { send: 151, reply: 2066 },
];

const groups = new Map<string, Set<WebSocket>>();

function handler(request: Request): Response {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("websocket only", { status: 400 });
  }
  const params = new URL(request.url).searchParams;
  const name = params.get("group") ?? "";
  const echo = params.get("echo") === "1";
  const acks = params.get("acks") === "1";
  const replies = params.get("replies")?.split(",").map(Number) ?? [];
  let answered = 0;
  const idleTimeout = Number(params.get("idle") ?? 0);
  const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout });
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    let group = groups.get(name);
    if (!group) groups.set(name, group = new Set());
    group.add(socket);
  };
  socket.onmessage = (event) => {
    if (answered < replies.length) return socket.send(new Uint8Array(replies[answered++]));
    if (echo) return socket.send(event.data);
    if (acks && (event.data as ArrayBuffer).byteLength === RELAY_ACK_LENGTH) return;
    const group = groups.get(name);
    if (!group) return;
    for (const peer of group) {
      if (peer !== socket && peer.readyState === WebSocket.OPEN) peer.send(event.data);
    }
    if (acks) socket.send(ACK);
  };
  socket.onclose = () => {
    const group = groups.get(name);
    group?.delete(socket);
    if (group?.size === 0) groups.delete(name);
  };
  return response;
}

if (import.meta.main) {
  const pumpArg = Deno.args.find((a) => a.startsWith("--pump="));
  // --pump-chunk=<bytes>: the minimal pump's buffer per direction (default: relay_pump.ts's).
  const chunkArg = Deno.args.find((a) => a.startsWith("--pump-chunk="));
  const chunk = chunkArg ? Number(chunkArg.slice("--pump-chunk=".length)) : undefined;
  const [certPath, keyPath] = Deno.args.filter((a) => !a.startsWith("--"));
  const tls = certPath && keyPath
    ? { cert: Deno.readTextFileSync(certPath), key: Deno.readTextFileSync(keyPath) }
    : {};
  if (pumpArg) {
    const pump = pumpArg.slice("--pump=".length) as RelayPump;
    if (!RELAY_PUMPS.includes(pump)) throw new Error(`--pump: one of ${RELAY_PUMPS.join(", ")}`);
    console.log(`relay listening on ${await servePumped(pump, tls, handler, chunk)}`);
  } else {
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      ...tls,
      onListen: ({ port }) => console.log(`relay listening on ${port}`),
    }, handler);
  }
}
