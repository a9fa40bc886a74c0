/**
 * `/readyz`: every dependency answers (storage, presence, bus) → 200
 * `ready`, else 503 `degraded` with what is wrong.
 *
 * @module
 */
import type { Bus, Presence } from "../router/mod.ts";
import type { Store } from "../storage/mod.ts";

/** Checks the dependencies and answers `/readyz`. */
export async function readiness(
  deps: { store: Store; presence: Presence; bus: Bus },
  stopping: boolean,
): Promise<Response> {
  const checks: Record<string, string> = {};
  const probe = (name: string, ping: () => Promise<void>) =>
    ping().then(() => (checks[name] = "ok"), (e) => (checks[name] = String(e)));
  await Promise.all([
    probe("storage", () => deps.store.ping()),
    probe("presence", () => deps.presence.ping()),
  ]);
  checks.bus = deps.bus.healthy ? "ok" : "reconnecting";
  const ready = !stopping && Object.values(checks).every((v) => v === "ok");
  return new Response(JSON.stringify({ status: ready ? "ready" : "degraded", checks }), {
    status: ready ? 200 : 503,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
