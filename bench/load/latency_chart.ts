/**
 * The hand-written SVG chart of a load run's delivery-latency CDFs
 * (`commucat bench load --chart`).
 *
 * @module
 */
import type { CdfPoint } from "./stats.ts";

/** One line of the latency chart. */
export interface ChartSeries {
  name: string;
  points: CdfPoint[];
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * An SVG chart of delivery-latency CDFs: log-scale milliseconds across,
 * cumulative share of messages up, one stepped line per series.
 */
export function renderLatencySvg(series: ChartSeries[], title = "Delivery latency (CDF)"): string {
  const width = 720;
  const height = 420;
  const left = 60;
  const right = 180;
  const top = 40;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = series.flatMap((s) => s.points.map((p) => p.ms)).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(all.length > 0 ? Math.min(...all) : 0.1)));
  const hi = Math.pow(10, Math.ceil(Math.log10(all.length > 0 ? Math.max(...all) : 10)));
  const decades = Math.max(1, Math.log10(hi / lo));
  const x = (v: number) => left + (Math.log10(Math.max(v, lo) / lo) / decades) * plotW;
  const y = (f: number) => top + (1 - f) * plotH;
  const r = (v: number) => v.toFixed(1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(
    `<text x="${left}" y="${top - 15}" font-size="15" font-weight="bold">${
      escapeXml(title)
    }</text>`,
  );
  for (let d = 0; d <= decades; d++) {
    const v = lo * 10 ** d;
    const px = r(x(v));
    parts.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${top + plotH}" stroke="#ddd"/>`);
    const label = v >= 1 ? `${v} ms` : `${Number(v.toPrecision(1))} ms`;
    parts.push(`<text x="${px}" y="${top + plotH + 18}" text-anchor="middle">${label}</text>`);
  }
  for (const f of [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]) {
    const py = r(y(f));
    parts.push(`<line x1="${left}" y1="${py}" x2="${left + plotW}" y2="${py}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${py}" text-anchor="end" dy="4">${f}</text>`);
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
  );
  parts.push(
    `<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">` +
      `delivery latency (log scale)</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    if (s.points.length > 0) {
      let d = `M${r(x(s.points[0].ms))},${r(y(0))}`;
      let previous = 0;
      for (const p of s.points) {
        d += ` L${r(x(p.ms))},${r(y(previous))} L${r(x(p.ms))},${r(y(p.fraction))}`;
        previous = p.fraction;
      }
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    const ly = top + 10 + i * 20;
    parts.push(
      `<line x1="${left + plotW + 12}" y1="${ly}" x2="${left + plotW + 32}" y2="${ly}" ` +
        `stroke="${color}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${left + plotW + 38}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
