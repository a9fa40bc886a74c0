/**
 * Cover traffic while a call is up (PROTOCOL.md §2 "Padding"): a voice-sized
 * message of padding only whenever the client sent nothing for one voice
 * interval, so pauses in speech (Opus DTX, muting, a held call) do not show
 * on the wire as gaps. Needs `pad1`: without it there is no way to send a
 * message the server ignores.
 *
 * @module
 */
import type { CommuCatClient } from "./client.ts";

/** A running cover-traffic loop. */
export interface CoverTraffic {
  /** Cover messages sent so far. */
  readonly sent: number;
  /** Stops the loop (also stops by itself when the connection closes). */
  stop(): void;
}

/**
 * Starts cover traffic on `client`: every `intervalMs` (default 20, one Opus
 * frame) in which nothing else was sent, one cover message. Throws when the
 * session has no `pad1`.
 */
export function startCoverTraffic(
  client: CommuCatClient,
  options: { intervalMs?: number } = {},
): CoverTraffic {
  if (client.padding === null) throw new Error("cover traffic needs pad1 (padding is off)");
  const intervalMs = options.intervalMs ?? 20;
  let sent = 0;
  const timer = setInterval(() => {
    if (client.closed) {
      clearInterval(timer);
      return;
    }
    // Real voice (or anything else) went out within the interval: no cover needed.
    if (performance.now() - client.lastSentAt < intervalMs) return;
    try {
      client.sendCover();
      sent++;
    } catch {
      clearInterval(timer); // closed meanwhile
    }
  }, intervalMs);
  return {
    get sent() {
      return sent;
    },
    stop: () => clearInterval(timer),
  };
}
