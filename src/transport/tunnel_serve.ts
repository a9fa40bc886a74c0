/**
 * What the tunnel listeners (Shadowsocks, pluggable transport) share: a socket
 * the {@link GuardedAcceptor} admitted is theirs alone until its tunnel opens,
 * and the opened stream — TLS carrying HTTP — is served by the loopback engine
 * like a socket of the TLS listener.
 *
 * @module
 */
import { type AdmittedSocket, closeQuietly, type GuardedAcceptor } from "./guarded_accept.ts";
import type { AcceptedStream, ConnectionSink } from "./listener.ts";
import type { LoopbackEngine } from "./loopback_engine.ts";

/**
 * Starts `acceptor` (named `name` in logs): each admitted socket goes to `open`, which opens its
 * tunnel and then calls {@link serveTunnel}.
 */
export function startTunnels(
  acceptor: GuardedAcceptor,
  sink: ConnectionSink,
  name: string,
  open: (socket: AdmittedSocket, engine: LoopbackEngine) => Promise<void>,
): void {
  acceptor.start(sink, name, (socket, engine) => {
    // Until the tunnel opens the socket is ours alone: the timeout closes it.
    socket.signal.addEventListener("abort", () => closeQuietly(socket.conn), { once: true });
    return open(socket, engine);
  });
}

/**
 * Serves HTTP on `stream`, the opened tunnel of `socket`, for the client at `remoteAddr`, until it
 * ends; its first request stops the socket's first-request timeout.
 */
export async function serveTunnel(
  socket: AdmittedSocket,
  engine: LoopbackEngine,
  stream: AcceptedStream["stream"],
  remoteAddr: Deno.NetAddr,
): Promise<void> {
  const accepted: AcceptedStream = { stream, remoteAddr, signal: socket.signal };
  const served = engine.serve(accepted);
  served.firstRequest.then(() => socket.firstRequest());
  await served.finished;
}
