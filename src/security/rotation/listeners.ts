/**
 * The listeners a secret manager tells about its rotations (metrics, the
 * admin-token hand-over): one that throws is logged and the others still run,
 * so a broken listener never stops a rotation.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";

/** Listeners of rotation events `E`. */
export class RotationListeners<E> {
  readonly #listeners = new Set<(event: E) => void>();

  /** Adds `listener`; returns what removes it. */
  add(listener: (event: E) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls every listener with `event`; a failure is a warning on `log`. */
  notify(event: E, log: Logger): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        log.warn("rotation listener failed", { error: (error as Error).message });
      }
    }
  }
}
