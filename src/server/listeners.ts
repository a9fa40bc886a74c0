/**
 * The server's listeners, built from settings: TLS over TCP on `server.bind`
 * and, when configured, plaintext HTTP on `server.h2c_bind` (behind a TLS
 * proxy). A new kind of listener (see src/transport/listener.ts) is added here.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { ListenError } from "../transport/errors.ts";
import type { ConnectionSink, Listener } from "../transport/listener.ts";
import type { ServerSettings } from "./settings.ts";

/** `host:port`, IPv6 in brackets. */
function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** A listener served by `Deno.serve`, which accepts on its own. */
class DenoServeListener implements Listener {
  readonly name: string;
  readonly #configKey: string;
  readonly #options: Deno.ServeTcpOptions & Partial<Deno.TlsCertifiedKeyPem>;
  readonly #log: Logger;
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;

  constructor(
    configKey: string,
    options: Deno.ServeTcpOptions & Partial<Deno.TlsCertifiedKeyPem>,
    log: Logger,
  ) {
    this.#configKey = configKey;
    this.#options = options;
    this.#log = log;
    const address = hostPort(options.hostname ?? "0.0.0.0", options.port ?? 0);
    this.name = `${options.cert ? "tls" : "plaintext"} ${address} (${configKey})`;
  }

  get addr(): Deno.NetAddr {
    if (!this.#server) throw new Error(`${this.name}: not started`);
    return this.#server.addr;
  }

  /** Binds and serves; a busy address throws a {@link ListenError} naming it and its key. */
  start(sink: ConnectionSink): void {
    try {
      this.#server = Deno.serve({
        ...this.#options,
        onListen: () => {},
        // The app answers its own errors; this is the last resort.
        onError: (error) => {
          this.#log.error("request failed", { error: String(error) });
          return new Response("internal server error", { status: 500 });
        },
      }, sink.handle) as Deno.HttpServer<Deno.NetAddr>;
    } catch (error) {
      const address = hostPort(this.#options.hostname ?? "0.0.0.0", this.#options.port ?? 0);
      throw new ListenError(this.#configKey, address, error);
    }
  }

  shutdown(): Promise<void> {
    return this.#server?.shutdown() ?? Promise.resolve();
  }
}

/** The listeners of `settings` (not started). */
export function buildListeners(
  settings: ServerSettings,
  tls: { cert: string; key: string },
  log: Logger,
): Listener[] {
  const listeners: Listener[] = [
    new DenoServeListener(
      "server.bind",
      { hostname: settings.hostname, port: settings.port, cert: tls.cert, key: tls.key },
      log,
    ),
  ];
  if (settings.h2c) {
    listeners.push(
      new DenoServeListener(
        "server.h2c_bind",
        { hostname: settings.h2c.hostname, port: settings.h2c.port },
        log,
      ),
    );
  }
  return listeners;
}
