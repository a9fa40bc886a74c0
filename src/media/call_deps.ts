/**
 * What the call service is given: its router, registry and SFU, its limits,
 * the media transcoder, metrics hooks, TURN credentials and the ledger.
 *
 * @module
 */
import type { PeerRegistry, Router } from "../router/mod.ts";
import type { Call, CallLimits } from "./call_table.ts";
import type { MediaPayload } from "./header.ts";
import type { Sfu } from "./sfu.ts";
import type { IceServer } from "./turn.ts";

/** Counters the call service reports (the composition root maps them to metrics). */
export interface CallMetrics {
  callStarted?(): void;
  callEnded?(): void;
  mediaIn?(kind: "audio" | "video", bytes: number): void;
  transport?(update: "candidate" | "selected_candidate_pair" | "consent_keepalive"): void;
}

/** Turns a sender's RAW media into the call's codec (see transcode/). */
export interface MediaTranscoder {
  /**
   * Checked at offer time: null when the server can transcode what `call`
   * asks for, else a one-line reason (the offer is refused with it).
   */
  admit(call: Call): string | null;
  /**
   * The encoded payload (header included) for a RAW `media` payload of
   * `sender` in `call`; rejects with a one-line reason for bad input.
   */
  transcode(call: Call, sender: string, kind: "audio" | "video", media: MediaPayload): Promise<
    Uint8Array
  >;
  /** The call ended: its encoders go. */
  release(call: Call): void;
  /** `sender`'s next video frame the server encodes in `call` is a key frame. */
  forceKeyFrame?(call: Call, sender: string): void;
}

/** What the call service needs. */
export interface CallServiceDeps {
  router: Router;
  registry: PeerRegistry;
  sfu: Sfu;
  limits: CallLimits;
  /** An offer nobody accepted ends after this long (ms). */
  ringTimeoutMs: number;
  transcoder?: MediaTranscoder;
  metrics?: CallMetrics;
  /**
   * TURN servers with credentials for `device` (its ICE ufrag when it sent
   * one): returned in the Ack of its offer and of its accepting answer.
   */
  iceServers?(device: string, ufrag: string | null): IceServer[];
  /** Ledger events `{scope:"call", event, call_id, data}`. */
  record?(event: Record<string, unknown>): void;
  now?: () => number;
}
