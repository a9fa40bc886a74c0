/**
 * How `commucat client connect --paths` shows a multipath session's paths.
 *
 * @module
 */
import type { PathSlotStatus } from "../src/client/mod.ts";

/** One line: `binary up, websocket up (attach 2), sse down: <why>`. */
export function describePaths(paths: PathSlotStatus[]): string {
  return paths.map((p) => {
    const again = p.attaches > 1 ? ` (attach ${p.attaches})` : "";
    const why = p.state === "down" && p.lastError ? `: ${p.lastError}` : "";
    return `${p.mode} ${p.state}${again}${why}`;
  }).join(", ");
}
