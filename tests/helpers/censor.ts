/**
 * Test helpers that play a censor on loopback: a closed port (connection
 * refused), a "reset proxy" that answers the first bytes of a connection with
 * a TCP RST (what DPI boxes do after reading a TLS ClientHello's SNI), and a
 * black hole that accepts and never answers (a timeout).
 */
import net from "node:net";
import { generateSelfSignedCertificate } from "../../src/security/tls/mod.ts";

/** A port nobody listens on (bound, then released). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A listener; `stop()` ends it and every socket it accepted. */
export interface Censor {
  port: number;
  /** Connections it has seen. */
  readonly seen: number;
  stop(): void;
}

/** Runs `handle` on every socket `listener` accepts. */
function censor<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  handle: (conn: C) => Promise<void>,
): Censor {
  const conns = new Set<C>();
  let seen = 0;
  (async () => {
    for await (const conn of listener) {
      seen++;
      conns.add(conn);
      handle(conn).catch(() => {}).finally(() => conns.delete(conn));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get seen() {
      return seen;
    },
    stop() {
      listener.close();
      for (const c of conns) closeQuietly(c);
    },
  };
}

/**
 * Answers the first bytes of every connection (a TLS ClientHello) with a TCP
 * RST, as DPI boxes do once they read the SNI. node:net's `resetAndDestroy`
 * sets SO_LINGER 0 (Deno's own sockets only ever close with a FIN).
 */
export async function resetProxy(): Promise<Censor> {
  const sockets = new Set<net.Socket>();
  let seen = 0;
  const server = net.createServer((socket) => {
    seen++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    socket.once("data", () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get seen() {
      return seen;
    },
    stop() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** Accepts and stays silent, reading and dropping what arrives. */
export function blackHole(): Censor {
  return censor(Deno.listen({ hostname: "127.0.0.1", port: 0 }), async (conn) => {
    const buf = new Uint8Array(4096);
    while ((await conn.read(buf).catch(() => null)) !== null) { /* dropped */ }
  });
}

/**
 * A TLS interceptor: completes TLS with a certificate of its own for
 * `localhost` (a middlebox replacing the server's), which a client that
 * checks the server's certificate refuses.
 */
export async function tlsInterceptor(): Promise<Censor> {
  const cert = await generateSelfSignedCertificate({
    commonName: "localhost",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.certPem,
    key: cert.keyPem,
  });
  // It only completes the handshake, then closes: the client has refused by then.
  return censor(listener, async (conn) => {
    await conn.handshake().catch(() => {});
    closeQuietly(conn);
  });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed */ }
}
