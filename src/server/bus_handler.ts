/**
 * What this instance does with a message from the cross-instance bus.
 *
 * @module
 */
import { decodeFrame } from "../proto/mod.ts";
import type { BusMessage, PeerRegistry, Router } from "../router/mod.ts";
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
  return (message) => {
    switch (message.kind) {
      case "offline-queue": {
        const peer = registry.get(message.deviceId);
        if (!peer) break;
        if (message.envelopeId && message.frame && peer.takeQueued) {
          let payload: Uint8Array | null = null;
          try {
            payload = decodeBase64(message.frame);
          } catch {
            log.warn("malformed frame on the bus", {});
          }
          if (payload) {
            // Counted: a holder that keeps reading the queue instead pays a
            // store round trip per notice (the cross-instance budget).
            if (peer.takeQueued(message.envelopeId, payload)) router.stats.busCarriedDelivered++;
            else router.stats.busQueueReads++;
            break;
          }
        }
        router.stats.busQueueReads++;
        peer.checkOfflineQueue();
        break;
      }
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
