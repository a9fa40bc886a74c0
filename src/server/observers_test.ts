import assert from "node:assert/strict";
import { NullLedger } from "../ledger/mod.ts";
import type { Logger } from "../log/mod.ts";
import { HandshakeGate } from "../security/ratelimit/mod.ts";
import { newServerCounters, serverObserver } from "./observers.ts";

Deno.test("server observer: counts ok, post-quantum and failed handshakes apart", () => {
  const counters = newServerCounters();
  const lines: string[] = [];
  const log: Logger = {
    debug: () => {},
    info: (message) => lines.push(message),
    warn: () => {},
    error: () => {},
  };
  const observer = serverObserver({
    counters,
    gate: new HandshakeGate(4),
    ledger: new NullLedger(),
    log,
  });
  const base = { durationMs: 1, deviceId: "d1", userId: "u1", sessionId: "s" };
  observer.handshake!({ ...base, connectionId: "c1", ok: true });
  observer.handshake!({ ...base, connectionId: "c2", ok: true, postQuantum: true });
  observer.handshake!({ connectionId: "c3", ok: false, reason: "zkp", durationMs: 1 });
  assert.equal(counters.handshakesOk, 2);
  assert.equal(counters.handshakesPq, 1);
  assert.equal(counters.handshakesFailed, 1, "a classical success is not a failure");
  assert.deepEqual(lines, ["handshake ok", "handshake ok", "handshake failed"]);
});
