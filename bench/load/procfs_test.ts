import assert from "node:assert/strict";
import { ProcReader, readCpuSeconds } from "./procfs.ts";

Deno.test("proc reader: answers each read in order, null for a process that is gone", async () => {
  const reader = ProcReader.open();
  try {
    const [stat, wait, status, gone] = await Promise.all([
      reader.cpuSeconds(Deno.pid),
      reader.runQueueWaitSeconds(Deno.pid),
      reader.read(Deno.pid, "status"),
      reader.read(2 ** 22 + 1, "stat"), // above Linux's pid_max
    ]);
    assert.ok(stat !== null && stat >= 0 && stat <= readCpuSeconds(Deno.pid));
    assert.ok(wait !== null && wait >= 0);
    assert.match(status ?? "", /^VmRSS:\s+\d+ kB$/m, "a file of many lines, whole");
    assert.equal(gone, null);
  } finally {
    await reader.close();
  }
});
