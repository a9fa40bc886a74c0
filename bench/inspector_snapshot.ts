/**
 * Heap snapshots of a server through its V8 inspector (`--inspect`), grouped
 * like bench/load/heap_profile.ts (by constructor, or `--by-retainer`), and
 * the difference of two per connection. For bench/loopback_floor.ts `--heap`.
 *
 * @module
 */
import { heapByConstructor, heapByRetainer, takeHeapSnapshot } from "./load/heap_profile.ts";

/** Self size and count per group name. */
export type HeapTable = Map<string, { count: number; bytes: number }>;

/** A snapshot (after the inspector's full GC) of the process listening for the inspector on `port`. */
export async function snapshot(port: number, byRetainer: boolean): Promise<HeapTable> {
  const parsed = JSON.parse(await takeHeapSnapshot(port));
  return byRetainer ? heapByRetainer(parsed) : heapByConstructor(parsed);
}

/** Prints `after − before` per connection, largest first (`rows` of them). */
export function heapRows(before: HeapTable, after: HeapTable, count: number, mode: string): void {
  const rows = [...after].map(([name, a]) => {
    const b = before.get(name) ?? { count: 0, bytes: 0 };
    return { name, count: (a.count - b.count) / count, bytes: (a.bytes - b.bytes) / count };
  }).sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  console.log(
    `${mode}: V8 heap per idle connection after a full GC: ${(total / 1024).toFixed(2)} KiB`,
  );
  for (const r of rows.slice(0, Number(Deno.env.get("HEAP_ROWS") ?? 40))) {
    console.log(`  ${r.name.slice(0, 100)} | ${r.count.toFixed(2)} | ${Math.round(r.bytes)}`);
  }
}
