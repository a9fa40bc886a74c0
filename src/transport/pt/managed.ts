/**
 * A pluggable-transport binary (obfs4proxy, lyrebird, …) run as a child in
 * managed mode (pt-spec v1): configured by `TOR_PT_*` environment variables,
 * it answers with stdout lines (VERSION, SMETHOD/CMETHOD, … DONE) and exits
 * when its stdin closes — so stdin is kept open for its whole life and closed
 * to stop it (a signal follows only when it does not exit in time).
 *
 * The child gets only the `TOR_PT_*` variables (and `PATH`): the server's own
 * environment holds secrets (`COMMUCAT_*` passwords and tokens) that a child
 * has no business seeing.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import { parsePtLine, type PtAddress, type PtLine } from "./protocol.ts";

/** The server side of a managed PT: where it listens, where it forwards. */
export interface PtServerRole {
  readonly role: "server";
  /** Where the PT listens for clients (`TOR_PT_SERVER_BINDADDR`). */
  readonly bind: PtAddress;
  /** Our Extended ORPort on loopback (`TOR_PT_EXTENDED_SERVER_PORT`). */
  readonly extendedOrPort: PtAddress;
  /** The Extended ORPort auth cookie file (`TOR_PT_AUTH_COOKIE_FILE`). */
  readonly authCookieFile: string;
  /** `k=v;k=v` for the transport (`TOR_PT_SERVER_TRANSPORT_OPTIONS`), e.g. `iat-mode=1`. */
  readonly options?: string;
}

/** The client side: it opens a SOCKS port. */
export interface PtClientRole {
  readonly role: "client";
}

/** Options of {@link ManagedTransport.start}. */
export interface ManagedTransportOptions {
  /** The PT binary (a path, or a name found on `PATH`). */
  readonly binary: string;
  /** Extra command-line arguments (e.g. `-enableLogging`). */
  readonly args?: readonly string[];
  /** The transport's name (`obfs4`). */
  readonly transport: string;
  /** Where the PT keeps its state (keys): created if missing (`TOR_PT_STATE_LOCATION`). */
  readonly stateDir: string;
  readonly side: PtServerRole | PtClientRole;
  /** Names the configuration in errors (`transport.pt.binary`). */
  readonly configKey: string;
  /** How long the PT may take to report its methods (default 15 s). */
  readonly startTimeoutMs?: number;
  readonly log: Logger;
}

/** What the PT reported for our transport. */
export interface PtMethod {
  readonly transport: string;
  /** Server: the bound public address; client: the SOCKS listener. */
  readonly address: PtAddress;
  /** Server: the `ARGS:` a client needs (obfs4 `cert`, `iat-mode`); client: empty. */
  readonly args: ReadonlyMap<string, string>;
  /** Client: `socks5` or `socks4`. */
  readonly protocol?: string;
}

/** The PT could not start: names the config key and what the PT said. */
export class PtStartError extends Error {
  readonly configKey: string;
  constructor(configKey: string, message: string, cause?: unknown) {
    super(`pluggable transport (${configKey}): ${message}`, { cause });
    this.name = "PtStartError";
    this.configKey = configKey;
  }
}

/** How long a stopping child gets after its stdin closed, then after SIGTERM, ms. */
const STOP_GRACE_MS = 2_000;
/** Lines of stdout kept for the error message when the child fails early. */
const MAX_TRANSCRIPT = 20;

/** A running PT child: see the module doc. */
export class ManagedTransport {
  /** What the PT reported for our transport. */
  readonly method: PtMethod;
  /** Resolves when the child has exited (for whatever reason); never rejects. */
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stopping = false;

  private constructor(
    child: Deno.ChildProcess,
    stdin: WritableStreamDefaultWriter<Uint8Array>,
    method: PtMethod,
    exited: Promise<Deno.CommandStatus>,
  ) {
    this.#child = child;
    this.#stdin = stdin;
    this.method = method;
    this.exited = exited;
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** True once {@link stop} was called (an exit after that is expected). */
  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Spawns the PT and waits for its methods; rejects with a
   * {@link PtStartError} (and no child left running) when it cannot start,
   * refuses our transport or says nothing in time.
   */
  static async start(options: ManagedTransportOptions): Promise<ManagedTransport> {
    const { configKey, log } = options;
    await Deno.mkdir(options.stateDir, { recursive: true, mode: 0o700 }).catch((error) => {
      throw new PtStartError(configKey, `cannot create ${options.stateDir}: ${error.message}`);
    });
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(options.binary, {
        args: [...(options.args ?? [])],
        env: ptEnvironment(options),
        clearEnv: true,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound
        ? `${options.binary} not found (install it, or set ${configKey} to its path)`
        : error instanceof Deno.errors.NotCapable
        ? `not permitted to run ${options.binary}: grant --allow-run=${options.binary}`
        : error instanceof Deno.errors.PermissionDenied
        ? `${options.binary} is not executable (permission denied by the system)`
        : (error as Error).message;
      throw new PtStartError(configKey, why, error);
    }
    const stdin = child.stdin.getWriter();
    const exited = child.status.catch(() => ({ success: false, code: -1, signal: null }));
    const name = `pt ${options.transport}`;
    // stderr is the PT's own chatter: logged at debug (obfs4proxy scrubs addresses).
    void forEachLine(
      child.stderr,
      (line) => log.debug("pluggable transport stderr", { name, line }),
    );

    const transcript: string[] = [];
    let settle!: (result: PtMethod | string) => void;
    const outcome = new Promise<PtMethod | string>((r) => (settle = r));
    let found: PtMethod | null = null;
    let failure: string | null = null;
    const onLine = (text: string) => {
      if (transcript.length < MAX_TRANSCRIPT) transcript.push(text);
      const line = parsePtLine(text);
      const result = interpret(line, options, found);
      if (result.method) found = result.method;
      if (result.failure && !failure) failure = result.failure;
      if (result.done) settle(found ?? failure ?? `no method for ${options.transport} reported`);
      if (line.kind === "LOG" || line.kind === "STATUS") {
        log.info("pluggable transport says", { name, text: line.text });
      }
    };
    void forEachLine(child.stdout, onLine).then(() =>
      settle(
        failure ?? `exited before reporting its methods (${transcript.join(" | ") || "no output"})`,
      )
    );
    const timeoutMs = options.startTimeoutMs ?? 15_000;
    const timer = setTimeout(() => settle(`no methods reported within ${timeoutMs} ms`), timeoutMs);
    const result = await outcome;
    clearTimeout(timer);
    if (typeof result === "string") {
      await stopChild(child, stdin, exited);
      throw new PtStartError(configKey, `${options.binary}: ${result}`);
    }
    log.info("pluggable transport started", {
      name,
      pid: child.pid,
      address: `${result.address.hostname}:${result.address.port}`,
    });
    return new ManagedTransport(child, stdin, result, exited);
  }

  /** Closes its stdin (the PT's signal to exit), then signals it if it lingers. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await stopChild(this.#child, this.#stdin, this.exited);
  }
}

/** The `TOR_PT_*` environment of the child (and `PATH`, for a binary named without a path). */
function ptEnvironment(options: ManagedTransportOptions): Record<string, string> {
  const env: Record<string, string> = {
    TOR_PT_MANAGED_TRANSPORT_VER: "1",
    TOR_PT_STATE_LOCATION: options.stateDir,
    TOR_PT_EXIT_ON_STDIN_CLOSE: "1",
  };
  // PATH only helps a binary named without a path; without --allow-env=PATH it is left out.
  let path: string | undefined;
  try {
    path = Deno.env.get("PATH");
  } catch { /* not permitted: the child runs without it */ }
  if (path) env.PATH = path;
  const side = options.side;
  if (side.role === "server") {
    env.TOR_PT_SERVER_TRANSPORTS = options.transport;
    env.TOR_PT_SERVER_BINDADDR = `${options.transport}-${formatAddress(side.bind)}`;
    env.TOR_PT_EXTENDED_SERVER_PORT = formatAddress(side.extendedOrPort);
    env.TOR_PT_AUTH_COOKIE_FILE = side.authCookieFile;
    if (side.options) {
      // Each option is prefixed with the transport's name (pt-spec 3.2.3).
      env.TOR_PT_SERVER_TRANSPORT_OPTIONS = side.options.split(";").filter((o) => o !== "")
        .map((o) => `${options.transport}:${o}`).join(";");
    }
  } else {
    env.TOR_PT_CLIENT_TRANSPORTS = options.transport;
  }
  return env;
}

function formatAddress(a: PtAddress): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/** What one line means for the start: our method, a fatal error, or the end of the list. */
function interpret(
  line: PtLine,
  options: ManagedTransportOptions,
  found: PtMethod | null,
): { method?: PtMethod; failure?: string; done?: boolean } {
  const server = options.side.role === "server";
  switch (line.kind) {
    case "VERSION":
      return line.version === "1" ? {} : { failure: `speaks version ${line.version}`, done: true };
    case "VERSION-ERROR":
    case "ENV-ERROR":
      return { failure: `${line.kind} ${line.message}`, done: true };
    case "SMETHOD":
      if (!server || line.transport !== options.transport || found) return {};
      return {
        method: { transport: line.transport, address: line.address, args: line.args },
      };
    case "CMETHOD":
      if (server || line.transport !== options.transport || found) return {};
      return {
        method: {
          transport: line.transport,
          address: line.address,
          args: new Map(),
          protocol: line.protocol,
        },
      };
    case "SMETHOD-ERROR":
    case "CMETHOD-ERROR":
      return line.transport === options.transport
        ? { failure: `${line.kind} ${line.transport} ${line.message}` }
        : {};
    case "SMETHODS DONE":
    case "CMETHODS DONE":
      return { done: true };
    default:
      return {};
  }
}

/** Calls `fn` for each line of a byte stream until it ends. */
async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  fn: (line: string) => void,
): Promise<void> {
  let pending = "";
  try {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, "");
        pending = pending.slice(nl + 1);
        if (line !== "") fn(line);
      }
    }
  } catch { /* the child's pipe broke: it is gone */ }
  if (pending !== "") fn(pending);
}

/** Closes stdin, waits, then SIGTERM, then SIGKILL. */
async function stopChild(
  child: Deno.ChildProcess,
  stdin: WritableStreamDefaultWriter<Uint8Array>,
  exited: Promise<Deno.CommandStatus>,
): Promise<void> {
  await stdin.close().catch(() => {});
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gone = await Promise.race([
      exited.then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), STOP_GRACE_MS))),
    ]);
    clearTimeout(timer);
    if (gone) return;
    try {
      child.kill(signal);
    } catch { /* exited meanwhile */ }
  }
  await exited;
}

/**
 * Where `binary` would be run from: itself when it names a path, else the
 * first executable of that name on `PATH`; null when there is none (or the
 * process may not look). For `commucat diagnose`: nothing is run.
 */
export function locatePtBinary(binary: string, path?: string): string | null {
  const executable = (file: string) => {
    try {
      const info = Deno.statSync(file);
      return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
    } catch {
      return false;
    }
  };
  if (binary.includes("/")) return executable(binary) ? binary : null;
  let dirs = path;
  if (dirs === undefined) {
    try {
      dirs = Deno.env.get("PATH") ?? "";
    } catch {
      return null;
    }
  }
  for (const dir of dirs.split(":").filter((d) => d !== "")) {
    const file = `${dir.replace(/\/+$/, "")}/${binary}`;
    if (executable(file)) return file;
  }
  return null;
}
