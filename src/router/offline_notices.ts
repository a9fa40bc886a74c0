/**
 * Notices of new offline-queue rows, per write batch: whoever holds each
 * recipient's connection is told — a peer of this instance directly, another
 * instance through the bus. One presence look-up for every distinct remote
 * recipient of the batch (one MGET on Redis), then one bus message per
 * holding instance carrying all of the batch's rows for it, in row order
 * (split at {@link MAX_NOTICE_ROWS} rows or {@link MAX_NOTICE_FRAME_BYTES} of
 * carried frames). Small frames ride along ({@link MAX_CARRIED_FRAME}): the
 * holder delivers them without reading the queue back.
 *
 * Never throws: a lost notice only delays delivery (the rows are written
 * first; the next look at the queue — reconnection, the periodic look —
 * finds them).
 *
 * @module
 */
import { encodeBase64 } from "../proto/mod.ts";
import type { OfflineEnvelope } from "../storage/mod.ts";
import { type Bus, type BusMessage, MAX_CARRIED_FRAME, type QueueNotice } from "./bus.ts";
import type { Presence } from "./presence.ts";
import type { PeerRegistry } from "./registry.ts";

/** Most rows one bus message carries (a larger batch goes in several messages). */
export const MAX_NOTICE_ROWS = 256;
/** Most encoded frame bytes one bus message carries (base64 makes it 4/3 of this). */
export const MAX_NOTICE_FRAME_BYTES = 512 * 1024;

/** What {@link notifyHolders} needs. */
export interface NoticeParts {
  registry: PeerRegistry;
  presence: Presence;
  bus: Bus;
  instanceId: string;
}

/**
 * Tells the holders of `devices` to look at their queues; `rows` (written
 * just now, in order) ride along to other instances. A device of `devices`
 * with no row in `rows` gets a plain notice.
 */
export async function notifyHolders(
  parts: NoticeParts,
  devices: readonly string[],
  rows: readonly OfflineEnvelope[] = [],
): Promise<void> {
  const remote: string[] = [];
  const seen = new Set<string>();
  for (const deviceId of devices) {
    if (seen.has(deviceId)) continue;
    seen.add(deviceId);
    const local = parts.registry.get(deviceId);
    if (local) local.checkOfflineQueue();
    else remote.push(deviceId);
  }
  if (remote.length === 0) return;
  // Presence down: the notices are lost, the rows are not (see the module doc).
  const entries = await parts.presence.getMany(remote).catch(() => null);
  if (entries === null) return;
  const holderOf = new Map<string, string>();
  remote.forEach((deviceId, i) => {
    const entry = entries[i];
    if (entry && entry.instance !== parts.instanceId) holderOf.set(deviceId, entry.instance);
  });
  if (holderOf.size === 0) return;
  // Each holder's notices in row order; devices without a row, a plain notice.
  const byHolder = new Map<string, QueueNotice[]>();
  const carried = new Set<string>();
  for (const row of rows) {
    const holder = holderOf.get(row.deviceId);
    if (holder === undefined) continue;
    const notice: QueueNotice = row.payload.length <= MAX_CARRIED_FRAME
      ? { deviceId: row.deviceId, envelopeId: row.envelopeId, frame: encodeBase64(row.payload) }
      : { deviceId: row.deviceId };
    pushTo(byHolder, holder, notice);
    carried.add(row.deviceId);
  }
  for (const [deviceId, holder] of holderOf) {
    if (!carried.has(deviceId)) pushTo(byHolder, holder, { deviceId });
  }
  const sends: Promise<void>[] = [];
  for (const [holder, notices] of byHolder) {
    for (const message of noticeMessages(notices)) {
      // Same as above: the holder looks again on its own when its bus recovers.
      sends.push(parts.bus.send(holder, message).catch(() => {}));
    }
  }
  await Promise.all(sends);
}

function pushTo(map: Map<string, QueueNotice[]>, key: string, notice: QueueNotice): void {
  const list = map.get(key);
  if (list) list.push(notice);
  else map.set(key, [notice]);
}

/**
 * The bus messages that carry `notices`: one a chunk of {@link noticeChunks},
 * a lone notice as `offline-queue`.
 */
export function noticeMessages(notices: readonly QueueNotice[]): BusMessage[] {
  return noticeChunks(notices).map((chunk): BusMessage =>
    chunk.length === 1
      ? { kind: "offline-queue", ...chunk[0] }
      : { kind: "offline-queue-rows", rows: chunk }
  );
}

/** `notices` cut into bus messages of at most {@link MAX_NOTICE_ROWS} rows and {@link MAX_NOTICE_FRAME_BYTES}. */
export function noticeChunks(notices: readonly QueueNotice[]): QueueNotice[][] {
  const chunks: QueueNotice[][] = [];
  let chunk: QueueNotice[] = [];
  let bytes = 0;
  for (const notice of notices) {
    const size = notice.frame === undefined ? 0 : (notice.frame.length * 3) >> 2;
    if (
      chunk.length > 0 && (chunk.length >= MAX_NOTICE_ROWS || bytes + size > MAX_NOTICE_FRAME_BYTES)
    ) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(notice);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
