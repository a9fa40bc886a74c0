/**
 * Process metrics from Deno's own APIs only: nothing here needs a permission
 * beyond what `serve` already has (no /proc reads, no `Deno.loadavg`, which
 * needs --allow-sys). prom-client's `collectDefaultMetrics` is not used for
 * the same reason.
 *
 * @module
 */
import { Gauge, type Registry } from "prom-client";

/** When the process started, in epoch seconds (the runtime's time origin). */
function processStartSeconds(): number {
  const origin = performance.timeOrigin;
  const ms = Number.isFinite(origin) && origin > 0 ? origin : Date.now() - performance.now();
  return ms / 1000;
}

/** Registers process_* and deno_* gauges on `registry`, read at scrape time. */
export function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  const startSeconds = processStartSeconds();
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers,
    collect() {
      this.set(startSeconds);
    },
  });
  new Gauge({
    name: "process_uptime_seconds",
    help: "Seconds since the process started (monotonic clock).",
    registers,
    collect() {
      this.set(performance.now() / 1000);
    },
  });
  const memory = (pick: (m: Deno.MemoryUsage) => number) =>
    function (this: Gauge) {
      this.set(pick(Deno.memoryUsage()));
    };
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers,
    collect: memory((m) => m.rss),
  });
  new Gauge({
    name: "deno_heap_total_bytes",
    help: "V8 heap size in bytes.",
    registers,
    collect: memory((m) => m.heapTotal),
  });
  new Gauge({
    name: "deno_heap_used_bytes",
    help: "V8 heap in use in bytes.",
    registers,
    collect: memory((m) => m.heapUsed),
  });
  new Gauge({
    name: "deno_external_memory_bytes",
    help: "Memory of objects outside the V8 heap (buffers) in bytes.",
    registers,
    collect: memory((m) => m.external),
  });
}
