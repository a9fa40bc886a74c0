/**
 * Option and argument parsers of `commucat client`: a bad value is a usage
 * error (one line, exit 1), not an exception.
 *
 * @module
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { type ConnectMode, parseModeAlias } from "../src/transport/mod.ts";
import { parseFecPolicy } from "../src/multipath/mod.ts";

/** `--mode`: a bad value is a usage error (one line, exit 1), not an exception. */
export function modeOption(value: string): ConnectMode {
  const mode = parseModeAlias(value);
  if (!mode) {
    throw new InvalidArgumentError(`unknown mode "${value}" (binary, sse, long-poll, websocket)`);
  }
  return mode;
}

/** `--paths ws,binary,sse`: the modes of a multipath session's paths, the first one's first. */
export function pathsOption(value: string): ConnectMode[] {
  const modes = value.split(",").map((m) => m.trim()).filter((m) => m !== "");
  if (modes.length === 0) throw new InvalidArgumentError("name at least one mode");
  if (modes.length > 4) throw new InvalidArgumentError("at most 4 paths");
  return modes.map(modeOption);
}

/** `--fec`: `auto`, `off`, `duplicate` or `raptorq[:overhead]`. */
export function fecOption(value: string): string {
  try {
    parseFecPolicy(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

/** `--channel`: a CCP channel id (u32). */
export function channelOption(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new InvalidArgumentError("must be a channel id (an integer from 0 to 4294967295)");
  }
  return n;
}

/** `--count`: how many messages; 0 = connect (registering the device) and exit. */
export function countOption(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError("must be a non-negative integer");
  }
  return n;
}

/** A channel typed in chat (`/join 5`); throws a one-line error. */
export function channelArgument(value: string | undefined): number {
  try {
    return channelOption(value ?? "");
  } catch {
    throw new Error(`${JSON.stringify(value ?? "")} is not a channel id (0 to 4294967295)`);
  }
}
