/**
 * Latency statistics for the load generator: a mergeable log-bucket
 * histogram (so worker processes can ship theirs to the parent), exact
 * percentiles of a sample array, and rates.
 *
 * @module
 */

/** Buckets per power of two: bucket width is 2^(1/16) − 1 ≈ 4.4 % of its value. */
const SUB_BUCKETS = 16;
/** The smallest value a histogram distinguishes, in milliseconds (1 µs). */
const MIN_MS = 0.001;
/** Bucket count: 1 µs · 2^(512/16) ≈ 71 minutes, far above any latency we see. */
const BUCKETS = 512;

/** The JSON form of a {@link LatencyHistogram}. */
export interface HistogramJson {
  /** Dense bucket counts up to the last non-empty bucket. */
  counts: number[];
  count: number;
  sumMs: number;
  minMs: number;
  maxMs: number;
}

/** A point of a cumulative distribution: `fraction` of the values are ≤ `ms`. */
export interface CdfPoint {
  ms: number;
  fraction: number;
}

/** Summary of a latency distribution, milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Counts values (milliseconds) in logarithmic buckets of ≈ 4.4 % width, so a
 * percentile read from it is within ±2.2 % of the exact one; min, max, mean
 * and count are exact.
 */
export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** Records one value in milliseconds (negative values count as 0). */
  record(ms: number): void {
    const value = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.#counts[bucketOf(value)]++;
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  /** Adds every value of `other` to this histogram. */
  merge(other: LatencyHistogram | HistogramJson): void {
    const json = other instanceof LatencyHistogram ? other.toJSON() : other;
    if (json.count === 0) return;
    json.counts.forEach((n, i) => (this.#counts[i] += n));
    this.#count += json.count;
    this.#sum += json.sumMs;
    this.#min = Math.min(this.#min, json.minMs);
    this.#max = Math.max(this.#max, json.maxMs);
  }

  /**
   * The value below which `q` (0..1) of the values lie: the geometric middle
   * of the bucket holding that rank, clamped to the exact min and max.
   */
  quantile(q: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(Math.min(Math.max(q, 0), 1) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) {
        return Math.min(Math.max(bucketMiddle(i), this.#min), this.#max);
      }
    }
    return this.#max;
  }

  /** Count, mean, min, p50, p95, p99 and max. */
  summary(): LatencySummary {
    return {
      count: this.#count,
      mean: this.#count === 0 ? NaN : this.#sum / this.#count,
      min: this.#count === 0 ? NaN : this.#min,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      max: this.#count === 0 ? NaN : this.#max,
    };
  }

  /** The cumulative distribution, one point per non-empty bucket (at its upper edge). */
  cdf(): CdfPoint[] {
    const points: CdfPoint[] = [];
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#counts[i] === 0) continue;
      seen += this.#counts[i];
      points.push({ ms: Math.min(bucketUpper(i), this.#max), fraction: seen / this.#count });
    }
    return points;
  }

  /** The mergeable JSON form. */
  toJSON(): HistogramJson {
    let last = -1;
    for (let i = 0; i < BUCKETS; i++) if (this.#counts[i] > 0) last = i;
    return {
      counts: Array.from(this.#counts.subarray(0, last + 1)),
      count: this.#count,
      sumMs: this.#sum,
      minMs: this.#count === 0 ? 0 : this.#min,
      maxMs: this.#count === 0 ? 0 : this.#max,
    };
  }

  /** Rebuilds a histogram from its JSON form. */
  static fromJSON(json: HistogramJson): LatencyHistogram {
    const histogram = new LatencyHistogram();
    histogram.merge(json);
    return histogram;
  }
}

function bucketOf(ms: number): number {
  if (ms <= MIN_MS) return 0;
  const index = Math.floor(Math.log2(ms / MIN_MS) * SUB_BUCKETS) + 1;
  return Math.min(index, BUCKETS - 1);
}

/** Upper edge of bucket `i` (bucket 0 holds everything up to 1 µs). */
function bucketUpper(i: number): number {
  return MIN_MS * 2 ** (i / SUB_BUCKETS);
}

function bucketMiddle(i: number): number {
  if (i === 0) return 0; // clamped to the exact minimum by the caller
  return MIN_MS * 2 ** ((i - 0.5) / SUB_BUCKETS);
}

/** Exact percentile (nearest rank) of `values`; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(Math.min(Math.max(q, 0), 1) * sorted.length));
  return sorted[rank - 1];
}

/** Events per second; 0 when no time passed. */
export function ratePerSecond(events: number, seconds: number): number {
  return seconds > 0 ? events / seconds : 0;
}

/** `value / baseline`, or null when either is missing or the baseline is 0. */
export function ratio(value: number | null | undefined, baseline: number | null | undefined) {
  if (value == null || baseline == null || !Number.isFinite(value) || !(baseline > 0)) return null;
  return value / baseline;
}
