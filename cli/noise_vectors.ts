/**
 * Runs a cacophony-format Noise test-vector file and reports one line per
 * vector, then `N passed, M failed, K skipped`. Exits 1 on any failure.
 *
 * Usage: `deno run --allow-read cli/noise_vectors.ts <file> [--backend native|noble]`
 *
 * @module
 */

import {
  type Backend,
  formatVectorResult,
  formatVectorSummary,
  runVectorFile,
} from "../src/crypto/noise/mod.ts";
import { errorLine, messageOf } from "./errors.ts";

const USAGE = "usage: noise_vectors <file.json> [--backend native|noble]";

interface Args {
  file: string;
  backend: Backend;
}

function parseArgs(args: readonly string[]): Args | string {
  let file: string | undefined;
  let backend: string = "native";
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--backend") {
      if (i + 1 >= args.length) return "--backend needs a value";
      backend = args[++i];
    } else if (arg.startsWith("--backend=")) {
      backend = arg.slice("--backend=".length);
    } else if (arg === "-h" || arg === "--help") {
      return USAGE;
    } else if (arg.startsWith("-")) {
      return `unknown option ${arg}`;
    } else if (file === undefined) {
      file = arg;
    } else {
      return "only one vector file may be given";
    }
  }
  if (file === undefined) return "no vector file given";
  if (backend !== "native" && backend !== "noble") return `unknown backend "${backend}"`;
  return { file, backend };
}

/** Runs the CLI; returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === "string") {
    console.error(args === USAGE ? USAGE : `${errorLine("noise-vectors", args)}\n${USAGE}`);
    return 2;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(args.file));
  } catch (err) {
    console.error(errorLine("noise-vectors", `cannot read ${args.file}: ${messageOf(err)}`));
    return 1;
  }
  let summary;
  try {
    summary = runVectorFile(parsed, args.backend);
  } catch (err) {
    console.error(errorLine("noise-vectors", `${args.file}: ${messageOf(err)}`));
    return 1;
  }
  console.error(`backend: ${args.backend}`);
  for (const result of summary.results) console.log(formatVectorResult(result));
  console.log(formatVectorSummary(summary));
  return summary.failed > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
