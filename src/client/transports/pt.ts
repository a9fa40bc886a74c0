/**
 * A Tor pluggable transport as a client carrier: opening it runs the PT
 * client binary (obfs4proxy) as a child in managed mode, which opens a SOCKS5
 * port on loopback; the SDK's HTTP client then reaches the server's PT port
 * (the bridge) through it, the bridge arguments (obfs4: `cert=…;iat-mode=0`)
 * riding in the SOCKS5 username and password as pt-spec asks. TLS to the
 * server runs inside the tunnel, so the route's URL is the bridge's host (the
 * server's name, which its certificate covers) and port.
 *
 * Needs `--allow-run=<binary>` (and write access to a temporary directory
 * for the PT's state).
 *
 * @module
 */
import { ManagedTransport, parsePtArgs, socksCredentials } from "../../transport/pt/mod.ts";
import { silentLogger } from "../../log/mod.ts";
import type { ClientTransport, TransportContext, TransportRoute } from "../transport.ts";

/** Options of {@link PtClientTransport}. */
export interface PtClientTransportOptions {
  /** The transport's name (`obfs4`). */
  transport?: string;
  /** The PT client binary (default `obfs4proxy`, found on PATH). */
  binary?: string;
  /** The bridge's host; default: the profile URL's host (the PT runs beside the server). */
  host?: string;
  /** The bridge's port (`transport.pt.bind` on the server). */
  port: number;
  /**
   * The bridge arguments as `commucat pt bridge-line` prints them
   * (`cert=…;iat-mode=0`; `,` separators are accepted too).
   */
  args: string;
  /** Where the PT keeps its state; default a fresh temporary directory (removed on close). */
  stateDir?: string;
  /** How long the PT may take to open its SOCKS port (default 10 s). */
  startTimeoutMs?: number;
}

/** See the module doc. */
export class PtClientTransport implements ClientTransport {
  readonly kind: string;
  readonly label: string;
  readonly #options: PtClientTransportOptions;
  readonly #credentials: { username: string; password: string };

  constructor(options: PtClientTransportOptions) {
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) {
      throw new RangeError(`port must be 1..65535, got ${options.port}`);
    }
    // k=v pairs, `;` (or `,`, as in SMETHOD's ARGS) between them, `\` escaping.
    const pair = String.raw`(?:[^;,=\\]|\\.)+=(?:[^;,\\]|\\.)*`;
    if (!new RegExp(`^${pair}(?:[;,]${pair})*$`).test(options.args)) {
      throw new Error("args: expected k=v pairs separated by ; (e.g. cert=…;iat-mode=0)");
    }
    const args = [...parsePtArgs(options.args.replace(/(?<!\\),/g, ";"), ";")];
    this.#options = options;
    this.kind = options.transport ?? "obfs4";
    // `;`-joined with pt-spec's escaping; never logged (the cert lets a censor confirm the bridge).
    this.#credentials = socksCredentials(
      args.map(([k, v]) => `${k}=${v.replace(/[\\;=]/g, (c) => `\\${c}`)}`).join(";"),
    );
    this.label = `${this.kind} ${options.host ?? "<server>"}:${options.port}`;
  }

  async open(context: TransportContext): Promise<TransportRoute> {
    const o = this.#options;
    const ownState = o.stateDir === undefined;
    const stateDir = o.stateDir ?? await Deno.makeTempDir({ prefix: "commucat-pt-" });
    const removeState = () =>
      ownState ? Deno.remove(stateDir, { recursive: true }).catch(() => {}) : Promise.resolve();
    let pt: ManagedTransport;
    try {
      pt = await ManagedTransport.start({
        binary: o.binary ?? "obfs4proxy",
        transport: this.kind,
        stateDir,
        side: { role: "client" },
        configKey: `${this.kind} transport binary`,
        startTimeoutMs: o.startTimeoutMs ?? 10_000,
        log: silentLogger,
      });
    } catch (error) {
      await removeState();
      throw error;
    }
    const stop = async () => {
      await pt.stop();
      await removeState();
    };
    if (context.signal.aborted || pt.method.protocol !== "socks5") {
      await stop();
      if (context.signal.aborted) throw new Error("aborted");
      throw new Error(`${this.kind}: the PT offers ${pt.method.protocol}, not socks5`);
    }
    const socks = pt.method.address;
    const httpClient = Deno.createHttpClient({
      caCerts: context.caCerts,
      proxy: {
        // The PT's SOCKS port is loopback; the name of the bridge is resolved here.
        url: `socks5://${socks.hostname}:${socks.port}`,
        basicAuth: this.#credentials,
      },
    });
    const base = new URL(context.url);
    const host = o.host ?? base.hostname;
    const url = `https://${
      host.includes(":") && !host.startsWith("[") ? `[${host}]` : host
    }:${o.port}`;
    let closed = false;
    return {
      url,
      httpClient,
      close: async () => {
        if (closed) return;
        closed = true;
        httpClient.close();
        await stop();
      },
    };
  }
}
