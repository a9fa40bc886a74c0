/**
 * The background job that ticks the secret managers (upstream: every 60 s).
 *
 * @module
 */
import { type Logger, silentLogger } from "../../log/mod.ts";

/** Something with a `tick()` (both managers). */
export interface Tickable {
  tick(): Promise<unknown>;
}

/** A running rotation job. */
export interface RotationJob {
  /** Stops the timer and waits for a tick in progress. */
  stop(): Promise<void>;
  /** Runs one round now (also what the timer does); never rejects. */
  runOnce(): Promise<void>;
}

/**
 * Ticks every manager in `managers` every `intervalMs` (default 60 000).
 * A failing tick is logged and retried at the next interval; rounds never
 * overlap.
 */
export function startSecretRotation(
  managers: Record<string, Tickable>,
  options: { intervalMs?: number; logger?: Logger } = {},
): RotationJob {
  const log = options.logger ?? silentLogger;
  let running: Promise<void> | null = null;
  const round = async () => {
    for (const [name, manager] of Object.entries(managers)) {
      try {
        await manager.tick();
      } catch (error) {
        log.error("secret rotation failed", { secret: name, error: (error as Error).message });
      }
    }
  };
  const runOnce = (): Promise<void> => {
    if (running === null) running = round().finally(() => running = null);
    return running;
  };
  const timer = setInterval(() => void runOnce(), options.intervalMs ?? 60_000);
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      if (running !== null) await running;
    },
  };
}
