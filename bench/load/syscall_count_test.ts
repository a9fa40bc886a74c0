import assert from "node:assert/strict";
import { parsePerfStatCounts } from "./syscall_count.ts";

Deno.test("syscall counts: perf stat -x , lines by syscall name; other lines ignored", () => {
  const text = [
    "",
    "18553,,syscalls:sys_enter_sendto,4001234567,100.00,,",
    "12218,,syscalls:sys_enter_recvfrom,4001234567,100.00,,",
    "<not counted>,,syscalls:sys_enter_writev,0,0.00,,",
    "5,,cpu-clock,1,100.00,,",
    "garbage",
  ].join("\n");
  assert.deepEqual(parsePerfStatCounts(text), { sendto: 18553, recvfrom: 12218 });
  assert.deepEqual(parsePerfStatCounts(""), {});
});
