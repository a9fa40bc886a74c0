/**
 * What the server watches on every connection: live counters for /healthz,
 * the handshake gate's slots, the handshake log line and the audit ledger.
 *
 * @module
 */
import { blake3, utf8 } from "../crypto/mod.ts";
import type { Ledger } from "../ledger/mod.ts";
import { type Logger, logsAt } from "../log/mod.ts";
import type { HandshakeGate } from "../security/ratelimit/mod.ts";
import type { ConnectionObserver } from "../session/mod.ts";

/** Live counters shown by /healthz (metrics build on the same observer). */
export interface ServerCounters {
  handshakesOk: number;
  /** Of those, post-quantum hybrid ones. */
  handshakesPq: number;
  handshakesFailed: number;
  framesIn: number;
  framesOut: number;
  connectionsByMode: Record<string, number>;
}

/** Counters at zero. */
export function newServerCounters(): ServerCounters {
  return {
    handshakesOk: 0,
    handshakesPq: 0,
    handshakesFailed: 0,
    framesIn: 0,
    framesOut: 0,
    connectionsByMode: { binary: 0, sse: 0, "long-poll": 0, websocket: 0 },
  };
}

/** Close reasons that are part of normal operation, not worth a log line. */
const ORDINARY_CLOSE = /^(client_closed|shutdown|replaced|revoked|handshake_failed)\b/;

type HandshakeInfo = Parameters<NonNullable<ConnectionObserver["handshake"]>>[0];

/**
 * The server's own observer: counts, frees the handshake slot once a
 * handshake ends (or its connection closes first), logs and records
 * handshakes in the ledger.
 */
export function serverObserver(parts: {
  counters: ServerCounters;
  gate: HandshakeGate;
  ledger: Ledger;
  log: Logger;
}): ConnectionObserver {
  const { counters, gate, ledger, log } = parts;
  // Asked once: below `info` no handshake line is built (its properties object), let alone written.
  const handshakeLines = logsAt(log, "info");
  return {
    opened: ({ mode }) => counters.connectionsByMode[mode]++,
    closed: ({ mode, connectionId, reason }) => {
      gate.leave(connectionId);
      counters.connectionsByMode[mode]--;
      // Closes the server imposed on a misbehaving client (slow, too_many_errors, frame_timeout…).
      if (!ORDINARY_CLOSE.test(reason)) {
        log.info("connection closed", { connection: connectionId, reason });
      }
    },
    handshake: (info) => {
      gate.leave(info.connectionId);
      recordHandshake(ledger, info);
      if (!info.ok) counters.handshakesFailed++;
      else {
        counters.handshakesOk++;
        if (info.postQuantum) counters.handshakesPq++;
      }
      if (handshakeLines) {
        log.info(info.ok ? "handshake ok" : "handshake failed", {
          connection: info.connectionId,
          reason: info.reason,
          device: info.deviceId,
          duration_ms: info.durationMs,
        });
      }
    },
    frameIn: () => counters.framesIn++,
    frameOut: () => counters.framesOut++,
  };
}

/** Handshake outcomes go to the ledger: the session id is a bearer token, so only its digest. */
function recordHandshake(ledger: Ledger, info: HandshakeInfo): void {
  // The default ledger discards: no BLAKE3 of the session id for nothing, on every handshake.
  if (!ledger.keeps) return;
  if (!info.ok) {
    void ledger.record({ scope: "handshake", result: "failure", reason: info.reason ?? "unknown" });
    return;
  }
  void ledger.record(
    { scope: "handshake", result: "success", device: info.deviceId, user: info.userId },
    info.sessionId ? blake3(utf8(info.sessionId)) : undefined,
  );
  if (info.action) {
    void ledger.record({
      device: info.deviceId,
      user: info.userId,
      action: info.action,
      source: "handshake",
    });
  }
}
