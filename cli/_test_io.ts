/**
 * Test helper of the CLI commands: an io that keeps what a command printed.
 *
 * @module
 */
import type { MigrateIo } from "./migrate.ts";

/** An io whose `out` holds everything written and `err` every error line. */
export function captureIo(): MigrateIo & { out: string; err: string[] } {
  const io = {
    out: "",
    err: [] as string[],
    write: (text: string) => void (io.out += text),
    error: (line: string) => void io.err.push(line),
  };
  return io;
}
