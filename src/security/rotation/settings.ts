/**
 * Rotation policies and how the configuration spells them
 * (`security.rotation.*`, `admin.token`).
 *
 * @module
 */
import type { Config } from "../../config/mod.ts";

/** How one kind of secret rotates. */
export interface RotationPolicy {
  /** A version is replaced this long after it was created. */
  intervalHours: number;
  /** A replaced version stays valid this much longer. */
  graceHours: number;
  /** Most versions kept valid at once (older ones are dropped). */
  maxVersions: number;
}

/** Admin-token rotation: the policy plus the on/off switch. */
export interface AdminRotationPolicy extends RotationPolicy {
  enabled: boolean;
}

/** Both policies. */
export interface RotationSettings {
  noise: RotationPolicy;
  admin: AdminRotationPolicy;
}

/** Upstream defaults (168/48/3 and 168/72/2; admin rotation off without a configured token). */
export const DEFAULT_ROTATION: RotationSettings = {
  noise: { intervalHours: 168, graceHours: 48, maxVersions: 3 },
  admin: { enabled: false, intervalHours: 168, graceHours: 72, maxVersions: 2 },
};

/** The policies from the loaded configuration. */
export function rotationSettingsFromConfig(config: Config): RotationSettings {
  const r = config.security.rotation;
  return {
    noise: {
      intervalHours: r.noiseIntervalHours,
      graceHours: r.noiseGraceHours,
      maxVersions: r.noiseMaxVersions,
    },
    admin: {
      // Upstream: on iff an admin token is configured, unless set explicitly.
      enabled: r.adminEnabled ?? (config.admin.token !== undefined && config.admin.token !== null),
      intervalHours: r.adminIntervalHours,
      graceHours: r.adminGraceHours,
      maxVersions: r.adminMaxVersions,
    },
  };
}

/** Milliseconds in `hours`. */
export function hoursToMs(hours: number): number {
  return hours * 3_600_000;
}

/** Whether a secret row is usable at `now`: `valid_after ≤ now < expires_at`. */
export function isActiveAt(
  row: { validAfter: Date; expiresAt: Date },
  now: Date,
): boolean {
  return row.validAfter.getTime() <= now.getTime() && now.getTime() < row.expiresAt.getTime();
}

/** Runs `fn` once the previous call through the same queue has settled. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn, fn);
    this.#tail = result.catch(() => {});
    return result;
  }
}
