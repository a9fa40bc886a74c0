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

Deno.test("server observer: handshakes reach a keeping ledger, a discarding one is skipped", () => {
  const recorded: Record<string, unknown>[] = [];
  const keeping = {
    keeps: true,
    record: (metadata: Record<string, unknown>) => {
      recorded.push(metadata);
      return Promise.resolve();
    },
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
    stats: () => ({ recorded: recorded.length, failed: 0 }),
  };
  const log: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  const info = {
    connectionId: "c1",
    ok: true,
    durationMs: 1,
    deviceId: "d1",
    userId: "u1",
    sessionId: "s",
    action: "register",
  };
  const gate = new HandshakeGate(4);
  serverObserver({ counters: newServerCounters(), gate, ledger: keeping, log }).handshake!(info);
  assert.deepEqual(recorded.map((r) => r.scope ?? r.action), ["handshake", "register"]);
  recorded.length = 0;
  serverObserver({ counters: newServerCounters(), gate, ledger: { ...keeping, keeps: false }, log })
    .handshake!(info);
  assert.equal(recorded.length, 0);
});

Deno.test("server observer: no handshake line is built when the logger drops info lines", () => {
  let built = 0;
  const log: Logger = {
    debug: () => {},
    info: () => void built++,
    warn: () => {},
    error: () => {},
    enabled: (level) => level !== "info" && level !== "debug",
  };
  const observer = serverObserver({
    counters: newServerCounters(),
    gate: new HandshakeGate(4),
    ledger: new NullLedger(),
    log,
  });
  observer.handshake!({ connectionId: "c1", ok: true, durationMs: 1 });
  observer.handshake!({ connectionId: "c2", ok: false, reason: "zkp", durationMs: 1 });
  assert.equal(built, 0);
});
