/** Logging never throws into its caller (timers and event callbacks call it). */
import assert from "node:assert/strict";
import { createLogger } from "../src/server/log.ts";

Deno.test("robustness: a failing log sink or a circular property never throws", () => {
  const broken = createLogger({
    level: "debug",
    format: "json",
    write: () => {
      throw new Error("stderr is gone");
    },
  });
  broken.error("something", { a: 1 });
  const lines: string[] = [];
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (const format of ["json", "pretty"] as const) {
    const log = createLogger({ level: "debug", format, write: (l) => lines.push(l) });
    log.warn("circular", { circular });
    log.info("fine", { n: 1 });
  }
  assert.equal(lines.filter((l) => l.includes("fine")).length, 2);
});
