/**
 * Several connection observers as one (the metrics' and the server's own).
 *
 * @module
 */
import type { ConnectionObserver } from "../session/mod.ts";

/**
 * One observer that forwards every event to each of `observers` in order.
 * Indexed loops, not `forEach` or `for…of`: frameIn, frameOut and routed
 * run per frame, and a `forEach` callback is a closure made per call, a
 * `for…of` an array iterator per call (~170 B per 1:1 delivery).
 */
export function combineObservers(...observers: ConnectionObserver[]): ConnectionObserver {
  return {
    opened: (info) => {
      for (let i = 0; i < observers.length; i++) observers[i].opened?.(info);
    },
    handshake: (info) => {
      for (let i = 0; i < observers.length; i++) observers[i].handshake?.(info);
    },
    frameIn: (type) => {
      for (let i = 0; i < observers.length; i++) observers[i].frameIn?.(type);
    },
    frameOut: (type) => {
      for (let i = 0; i < observers.length; i++) observers[i].frameOut?.(type);
    },
    closed: (info) => {
      for (let i = 0; i < observers.length; i++) observers[i].closed?.(info);
    },
    routed: (info) => {
      for (let i = 0; i < observers.length; i++) observers[i].routed?.(info);
    },
    routeDelay: (seconds, deliveries) => {
      for (let i = 0; i < observers.length; i++) observers[i].routeDelay?.(seconds, deliveries);
    },
  };
}
