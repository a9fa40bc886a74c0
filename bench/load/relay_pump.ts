/**
 * The guarded accept path's native floor: the raw TLS relay (relay_server.ts)
 * behind a raw TCP → loopback byte pump, the shape of CommuCat's guarded
 * accept (src/transport/tls_tcp.ts → loopback_engine.ts) with none of its
 * code. A public `Deno.listen` socket is dialled to a loopback `Deno.serve`
 * (which terminates TLS) and its bytes are copied both ways; the pump's
 * native cost (two more sockets, one more `read` and `write` each way per
 * burst, the loopback's kernel work) is then in the floor, not in ours.
 *
 * Pumps (`relay_server.ts --pump=<name>`):
 *
 * - `minimal`: the cheapest correct pump in Deno — per direction one `async`
 *   loop over one 64 KiB buffer (a TLS record of up to 16 KiB and whatever
 *   queued behind it in one read), writing all it read, Nagle off on both
 *   hops (as ours: small interactive writes); the idle-memory floor runs it
 *   with the buffer a guarded pump's idle read waits on instead
 *   (`relay_server.ts --pump-chunk=256`: 64 KiB each way would be 128 KiB
 *   per idle connection);
 * - `guarded`: CommuCat's own `TcpListener` (caps, first-request timer and
 *   `LoopbackEngine`'s pump) in front of the same handler: to compare ours
 *   against `minimal` per byte (bench/pump_floor.ts).
 *
 * @module
 */

/** The pumps `relay_server.ts --pump` offers. */
export type RelayPump = "minimal" | "guarded";
/** The pumps, for option parsing. */
export const RELAY_PUMPS: readonly RelayPump[] = ["minimal", "guarded"];

/** The minimal pump's buffer per direction: more than a TLS record (16 KiB + overhead). */
const MINIMAL_CHUNK = 64 * 1024;

/** Copies `from` to `to` through `chunkBytes` until either ends; then closes both. */
async function copy(from: Deno.Conn, to: Deno.Conn, chunkBytes: number): Promise<void> {
  const buf = new Uint8Array(chunkBytes);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  } catch { /* reset: end both */ }
  for (const c of [from, to]) {
    try {
      c.close();
    } catch { /* closed already */ }
  }
}

/**
 * Serves `handler` on a loopback `Deno.serve` (TLS with `tls`) behind a
 * public 127.0.0.1 port that pumps each accepted socket to it; returns the
 * public port.
 */
export async function servePumped(
  pump: RelayPump,
  tls: { cert: string; key: string } | Record<never, never>,
  handler: (request: Request) => Response,
  chunkBytes = MINIMAL_CHUNK,
): Promise<number> {
  if (pump === "guarded") {
    // CommuCat's listener, loaded only for this pump (the minimal floor carries none of it).
    const { TcpListener } = await import("../../src/transport/tls_tcp.ts");
    const { UNCOUNTED_SLOT } = await import("../../src/transport/listener.ts");
    const { silentLogger } = await import("../../src/log/mod.ts");
    const listener = new TcpListener({
      configKey: "bench",
      hostname: "127.0.0.1",
      port: 0,
      tls: "cert" in tls ? tls : undefined,
      firstRequestTimeoutMs: 10_000,
      admit: () => UNCOUNTED_SLOT,
      log: silentLogger,
    });
    listener.start({ handle: handler });
    return listener.addr.port;
  }
  const inner = Deno.serve({ hostname: "127.0.0.1", port: 0, ...tls, onListen() {} }, handler);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      Deno.connect({ hostname: "127.0.0.1", port: inner.addr.port }).then((near) => {
        near.setNoDelay(true);
        conn.setNoDelay(true);
        copy(conn, near, chunkBytes);
        copy(near, conn, chunkBytes);
      }, () => conn.close());
    }
  })();
  return listener.addr.port;
}
