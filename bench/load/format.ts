/**
 * Number and table formatting of the load report's markdown (report.ts,
 * accept_modes.ts).
 *
 * @module
 */
/** Formats a number with thousands separators and `digits` decimals; "–" for null/NaN. */
export function num(value: number | null | undefined, digits = 0): string {
  if (value == null || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** Formats milliseconds with precision that suits their size. */
export function ms(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return "–";
  return value < 1
    ? `${num(value, 3)} ms`
    : value < 10
    ? `${num(value, 2)} ms`
    : `${num(value, 1)} ms`;
}

/** A markdown table; cells are escaped for `|`. */
export function table(header: string[], rows: string[][]): string {
  const cell = (s: string) => s.replaceAll("|", "\\|");
  const lines = [
    `| ${header.map(cell).join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ];
  return lines.join("\n");
}
