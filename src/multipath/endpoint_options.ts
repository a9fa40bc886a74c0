/**
 * What a multipath endpoint is given: the links of its paths, and its settings and callbacks.
 *
 * @module
 */
import type { FecCodec } from "./fec.ts";
import type { PathKeys, Side } from "./keys.ts";
import type { FecPolicy } from "./policy.ts";

/** One path as the endpoint sees it. */
export interface PathLink {
  /** Sends one unit (`varint(len) || body`). */
  send(unit: Uint8Array): void;
  /** Bytes handed over that the peer has not taken yet (0 where unknown). */
  readonly backlogBytes: number;
  /** Closes the path. */
  close(): void;
}

/** What a path did so far (status lines, metrics). */
export interface PathStatus {
  id: number;
  mode: string;
  unitsOut: number;
  unitsIn: number;
  backlogBytes: number;
}

/** Why a path left. */
export type PathEnd = "closed" | "refused";

/** Settings and callbacks of an endpoint. */
export interface EndpointOptions {
  side: Side;
  keys: PathKeys;
  /** The next transport message, in order, exactly once. */
  deliver(ciphertext: Uint8Array): void;
  /** Per frame class; `default` for everything unnamed. */
  policy?: Record<string, FecPolicy>;
  /** RaptorQ; without it, `raptorq` falls back to duplicate. */
  fec?: FecCodec;
  /** Smallest / largest retransmission timeout, ms (default 150 / 2000). */
  minRtoMs?: number;
  maxRtoMs?: number;
  /** Units accepted ahead of the next expected one (default 16384). */
  receiveWindow?: number;
  /** Bytes held for reordering (default 8 MiB). */
  maxReorderBytes?: number;
  /** A path with more unread bytes than this gets no new units (default 1 MiB). */
  pathBacklogBytes?: number;
  /**
   * Batches smaller than this go out as two copies on two paths (in turn)
   * instead of RaptorQ (default: the schedule's, policy.ts: 2 KiB under
   * `raptorq`, 32 KiB under `auto`): a small object costs the codec's fixed
   * price per object for a few bytes saved.
   */
  minFecBytes?: number;
  /**
   * Delay before an ACK goes out, ms (coalesces a burst; default 50, longer
   * than the SDK's 20 ms delivery-ack delay, so under two-way traffic the
   * ACK rides on the answer instead of costing a write of its own). An ACK
   * waiting for it rides on data this end writes meanwhile (at most one per
   * half delay).
   */
  ackDelayMs?: number;
  /** A path ended (closed, or refused for `detail`). */
  onPathEnd?(id: number, end: PathEnd, detail: string): void;
  /** The peer sent END and everything before it arrived: the session is over. */
  onPeerEnd?(): void;
  /** The peer broke the protocol with valid keys: the session must end. */
  onFatal(detail: string): void;
  now?: () => number;
}
