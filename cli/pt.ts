/**
 * `commucat pt bridge-line` and `commucat onion torrc`: what an operator hands
 * to clients of the pluggable-transport listener (`transport.pt.*`), and the
 * torrc lines for running behind Tor as an onion service.
 *
 * `pt bridge-line` reads what the server wrote when its PT child last started
 * (`<state_dir>/commucat_bridge.json`, mode 0600): the port and the client
 * arguments (obfs4: `cert=…;iat-mode=0`). The cert is what lets a client —
 * or a censor who has it — complete the obfs4 handshake: hand it out like a
 * password, not in public.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { type Config, loadConfig, parseBind } from "../src/config/mod.ts";
import { onionTarget, renderTorrc } from "../src/transport/onion/mod.ts";
import { BRIDGE_ARGS_FILE, type BridgeInfo } from "../src/transport/pt/mod.ts";
import { errorLine, messageOf } from "./errors.ts";
import { type MigrateIo as CliIo, stdIo } from "./migrate.ts";

const CONFIG_OPTION = [
  "-c, --config <path>",
  "configuration file (default: $COMMUCAT_CONFIG or ./commucat.toml)",
] as const;

function load(command: string, path: string | undefined, io: CliIo): Config | null {
  try {
    return loadConfig({ path });
  } catch (error) {
    io.error(errorLine(command, messageOf(error)));
    return null;
  }
}

/** Prints the bridge line and the client profile entry; returns the exit code. */
export async function runBridgeLine(
  options: { config?: string; host?: string },
  io: CliIo = stdIo,
): Promise<number> {
  const command = "pt bridge-line";
  const config = load(command, options.config, io);
  if (!config) return 1;
  const pt = config.transport.pt;
  if (pt.bind === undefined) {
    io.error(errorLine(command, "transport.pt.bind is not set: no pluggable transport runs"));
    return 1;
  }
  const path = `${pt.stateDir}/${BRIDGE_ARGS_FILE}`;
  let info: BridgeInfo;
  try {
    info = JSON.parse(await Deno.readTextFile(path)) as BridgeInfo;
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "not written yet: start the server once (commucat serve)"
      : messageOf(error);
    io.error(errorLine(command, `cannot read ${path} (transport.pt.state_dir): ${why}`));
    return 1;
  }
  const host = options.host ?? config.server.domain;
  const hostPort = host.includes(":") ? `[${host}]:${info.port}` : `${host}:${info.port}`;
  const entry: Record<string, unknown> = info.transport === "obfs4"
    ? { kind: "obfs4" }
    : { kind: "pt", transport: info.transport };
  // Without --host the client uses its profile's server name (the PT runs beside the server).
  if (options.host !== undefined) entry.host = options.host;
  Object.assign(entry, { port: info.port, args: info.args });
  io.write(
    `${info.transport} ${hostPort} ${info.args}\n` +
      `client transport entry: ${JSON.stringify(entry)}\n` +
      `(keep the args private: they let anyone, a censor too, complete the ${info.transport} handshake)\n`,
  );
  return 0;
}

/** Prints the torrc lines of the onion service; returns the exit code. */
export function runOnionTorrc(
  options: {
    config?: string;
    dir: string;
    port?: number;
    plaintext?: boolean;
    standalone?: string;
  },
  io: CliIo = stdIo,
): number {
  const command = "onion torrc";
  const config = load(command, options.config, io);
  if (!config) return 1;
  const plaintext = options.plaintext ?? false;
  const bind = plaintext ? config.server.h2cBind : config.server.bind;
  if (bind === undefined) {
    io.error(errorLine(command, "--plaintext needs server.h2c_bind (the plaintext listener)"));
    return 1;
  }
  try {
    io.write(renderTorrc({
      serviceDir: options.dir,
      virtualPort: options.port ?? (plaintext ? 80 : 443),
      target: onionTarget(parseBind(bind)),
      targetKey: plaintext ? "server.h2c_bind" : "server.bind",
      standalone: options.standalone ? { dataDirectory: options.standalone } : undefined,
    }));
    return 0;
  } catch (error) {
    io.error(errorLine(command, messageOf(error)));
    return 1;
  }
}

function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new Error("expected a port 1..65535");
  return n;
}

/** Adds `pt bridge-line` and `onion torrc` to `program`. */
export function registerPtCommands(program: Command, io: CliIo = stdIo): void {
  const pt = program.command("pt").description("Tor pluggable transport (transport.pt.*)");
  pt.command("bridge-line")
    .description("print what clients need to reach the PT listener (obfs4 cert, port)")
    .option(...CONFIG_OPTION)
    .option("--host <name>", "the name clients reach the server by (default: server.domain)")
    .action(async (o) => {
      const code = await runBridgeLine(o, io);
      if (code !== 0) Deno.exitCode = code;
    });
  const onion = program.command("onion").description("run behind Tor as an onion service");
  onion.command("torrc")
    .description("print torrc lines mapping an onion port to this server's listener")
    .option(...CONFIG_OPTION)
    .option(
      "--dir <path>",
      "HiddenServiceDir (Tor's keys and hostname; owned by Tor, 0700)",
      "/var/lib/tor/commucat",
    )
    .option("--port <n>", "onion port clients use (default 443; 80 with --plaintext)", portOption)
    .option("--plaintext", "forward to server.h2c_bind (no TLS inside Tor)")
    .option("--standalone <data_dir>", "a complete torrc for a Tor of its own (DataDirectory)")
    .action((o) => {
      const code = runOnionTorrc(o, io);
      if (code !== 0) Deno.exitCode = code;
    });
}
