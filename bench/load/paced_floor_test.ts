import assert from "node:assert/strict";
import { addPacedFloor, pacedFloorAt, pacedFloorLabel } from "./paced_floor.ts";
import type { TrafficSummary } from "./report_types.ts";
import { LatencyHistogram } from "./stats.ts";

/** A paced phase at `rate` (only the rate matters here). */
function phase(_perCpu: number, _p99: number, rate: number): TrafficSummary {
  return {
    connections: 100,
    fanout: 1,
    targetPerSecond: rate,
    deliveredPerSecond: rate,
    sentPerSecond: rate,
    latency: new LatencyHistogram().summary(),
    cdf: [],
    missing: 0,
    sendErrors: 0,
    serverCpuSeconds: null,
    serverCpuPer1000: null,
    deliveredPerServerCpuSecond: null,
    clientCores: 0.5,
  };
}

Deno.test("paced floors: one measurement per distinct rate, shared by modes at the same rate", async () => {
  const floors: Parameters<typeof addPacedFloor>[0] = [];
  const measured: number[] = [];
  const measure = (rate: number) => {
    measured.push(rate);
    return Promise.resolve(phase(70_000, 5, rate));
  };
  await addPacedFloor(floors, "guarded", 5_000, measure);
  await addPacedFloor(floors, "direct", 5_000, measure);
  await addPacedFloor(floors, "direct", 9_000, measure);
  assert.deepEqual(measured, [5_000, 9_000]);
  assert.deepEqual(floors.map((f) => f.accept), [["guarded", "direct"], ["direct"]]);
});

Deno.test("paced floors: found by rate, named by mode", () => {
  const relayTls = {
    max: phase(0, 0, 0),
    ackedPaced: [{ accept: ["guarded", "direct"], phase: phase(0, 0, 8_125) }],
  };
  assert.equal(pacedFloorAt(relayTls, 8_125)?.targetPerSecond, 8_125);
  assert.equal(pacedFloorAt(relayTls, 17_048), null);
  assert.equal(pacedFloorAt(relayTls, null), null);
  assert.equal(
    pacedFloorLabel(relayTls.ackedPaced[0]),
    "raw TLS relay with acks, pairs, 50% of guarded and direct",
  );
});
