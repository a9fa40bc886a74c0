/**
 * The markdown of a run's verdicts: the budgets against their native floors
 * (verdicts.ts) and the targets in words (targets.ts).
 *
 * @module
 */
import { ms, num, table } from "./format.ts";
import type { TargetResult } from "./report_types.ts";
import type { Figure, VerdictRow } from "./verdicts.ts";

/** A figure in the report's words. */
export function formatFigure(f: Figure | null): string {
  if (f === null) return "–";
  switch (f.unit) {
    case "share":
      return `${num(f.value * 100, 1)}%`;
    case "ratio":
      return `${num(f.value, 2)}×`;
    case "msg/CPU-s":
      return `${num(f.value)} msg/CPU-s`;
    case "CPU-ms":
      return `${num(f.value, 3)} CPU-ms`;
    case "bytes":
      return `${num(f.value / 1024, 1)} KiB`;
    case "ms":
      return ms(f.value);
  }
}

/** The markdown of the verdict table with its notes, then the targets in words. */
export function renderVerdicts(rows: VerdictRow[], targets: TargetResult[]): string[] {
  return [
    ...(rows.length === 0 ? [] : floorTable(rows)),
    "",
    "### Targets",
    "",
    table(
      ["target", "measured", "verdict"],
      targets.map((t) => [
        t.target,
        t.measured + (t.note ? ` (${t.note})` : ""),
        t.met === null ? "not measured" : t.met ? "met" : "NOT met",
      ]),
    ),
  ];
}

function floorTable(rows: VerdictRow[]): string[] {
  return [
    "",
    "### Budgets against their native floors",
    "",
    table(
      ["budget", "ours", "floor", "ceiling", "without floor", "verdict"],
      rows.map((r) => [
        r.budget,
        formatFigure(r.ours),
        formatFigure(r.floor),
        formatFigure(r.ceiling),
        formatFigure(r.withoutFloor),
        r.verdict,
      ]),
    ),
    "",
    "Floor: the native floor measured in this run; ceiling: the best figure reachable with " +
    "every line of ours free; without floor: ours with the floor's cost taken out. " +
    '"stopped by floor": the ceiling itself misses the budget.',
    "",
    ...rows.filter((r) => r.note).map((r) => `- ${r.budget}: ${r.note}`),
  ];
}
