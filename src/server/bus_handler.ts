/**
 * What this instance does with a message from the cross-instance bus.
 *
 * @module
 */
import { decodeFrame } from "../proto/mod.ts";
import type { BusMessage, PeerRegistry, QueueNotice, Router } from "../router/mod.ts";
import type { Logger } from "../log/mod.ts";
import { decodeBase64 } from "../proto/mod.ts";

/** The handler for `bus.subscribe`. */
export function busMessageHandler(parts: {
  instanceId: string;
  registry: PeerRegistry;
  router: Router;
  log: Logger;
}): (message: BusMessage) => void {
  const { instanceId, registry, router, log } = parts;
  /** One new row (or rows) of a device here: delivered as carried, else the queue is read. */
  const takeNotice = (notice: QueueNotice): void => {
    const peer = registry.get(notice.deviceId);
    const { deviceId, envelopeId, frame, origin } = notice;
    if (origin && envelopeId && frame) {
      // A copy its origin holds in the durable-copy window (no row yet):
      // delivered here, or stored here when the device cannot take it now.
      let payload: Uint8Array;
      try {
        payload = decodeBase64(frame);
      } catch {
        log.warn("malformed frame on the bus", {}); // its origin writes it when its window ends
        return;
      }
      if (router.offlineQueue.carried.receive(peer, origin, { deviceId, envelopeId }, payload)) {
        router.stats.busCarriedDelivered++;
      } else router.stats.busQueueReads++;
      return;
    }
    if (!peer) return;
    if (router.offlineQueue.carried.storing(deviceId)) {
      // A carried copy of this device is being stored here: this row waits its turn.
      router.stats.busQueueReads++;
      peer.checkOfflineQueue();
      return;
    }
    if (notice.envelopeId && notice.frame && peer.takeQueued) {
      let payload: Uint8Array | null = null;
      try {
        payload = decodeBase64(notice.frame);
      } catch {
        log.warn("malformed frame on the bus", {});
      }
      if (payload) {
        // Counted: a holder that keeps reading the queue instead pays a
        // store round trip per notice (the cross-instance budget).
        if (peer.takeQueued(notice.envelopeId, payload)) router.stats.busCarriedDelivered++;
        else router.stats.busQueueReads++;
        return;
      }
    }
    router.stats.busQueueReads++;
    peer.checkOfflineQueue();
  };
  return (message) => {
    switch (message.kind) {
      case "held-copies": {
        // Copies `from` holds for devices here, delivered as they came (or
        // stored here); then its answers about the copies this instance
        // carried to it.
        const carried = router.offlineQueue.carried;
        for (const { deviceId, envelopeId, frame } of message.copies) {
          const peer = registry.get(deviceId);
          if (carried.receive(peer, message.from, { deviceId, envelopeId }, frame)) {
            router.stats.busCarriedDelivered++;
          } else router.stats.busQueueReads++;
        }
        if (message.acked.length + message.released.length > 0) {
          router.offlineQueue.copiesSettled(message.acked, message.released);
        }
        break;
      }
      case "offline-queue":
        takeNotice(message);
        break;
      case "offline-queue-rows":
        // In row order: a device's rows stay in queue order.
        for (const notice of message.rows) takeNotice(notice);
        break;
      case "kept-copies":
        router.offlineQueue.copiesSettled(message.acked, message.released);
        break;
      case "reachability":
        router.forgetReachability();
        break;
      case "route":
        if (message.from !== instanceId) router.invalidateRoute(message.channel);
        break;
      case "kick": {
        // The device connected again on another instance (one connection per
        // device), or was revoked.
        const peer = registry.get(message.deviceId);
        if (peer && peer.connectionId !== message.connectionId) {
          peer.close(message.reason ?? "replaced");
        }
        break;
      }
      case "frame": {
        const peer = registry.get(message.deviceId);
        if (!peer) break;
        try {
          const decoded = decodeFrame(decodeBase64(message.frame));
          if (decoded) peer.deliver(decoded.frame);
        } catch {
          log.warn("malformed frame on the bus", {});
        }
        break;
      }
    }
  };
}
