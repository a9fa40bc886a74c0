/**
 * Prometheus metrics: the upstream metric set (exposed with `_total` on
 * counters), handshake/routing histograms, connection and queue gauges and
 * process metrics, in a per-server prom-client registry, plus the admin-auth
 * `/metrics` endpoint.
 *
 * ```ts
 * import { adminTokenVerifier, Metrics, serveMetrics } from "../metrics/mod.ts";
 * const metrics = new Metrics({ version: "0.1.0" });
 * const verify = adminTokenVerifier("a-long-random-admin-token");
 * const response = await serveMetrics(
 *   new Request("https://x/metrics", { headers: { authorization: "Bearer a-long-random-admin-token" } }),
 *   metrics,
 *   verify,
 * );
 * ```
 *
 * @module
 */
export { UPSTREAM_METRICS, type UpstreamKey, type UpstreamMetric } from "./catalog.ts";
export {
  combineObservers,
  Metrics,
  METRICS_CONTENT_TYPE,
  type MetricsOptions,
  type RateLimitScope,
  type RefusingListener,
} from "./metrics.ts";
export type { P2pMetrics } from "./p2p.ts";
export {
  type ExportedHistogram,
  type HistogramValue,
  RunningHistogram,
  type RunningHistogramOptions,
} from "./running_histogram.ts";
export type { PtMetrics } from "./pt.ts";
export { adminTokenVerifier, bearerToken, serveMetrics, type VerifyAdminToken } from "./http.ts";
