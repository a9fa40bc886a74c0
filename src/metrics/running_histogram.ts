/**
 * A histogram for observations made per frame (routing latency) or per
 * handshake: bucket counts in a typed array and a running sum, exported
 * exactly as prom-client's `Histogram` exports them (label sets as series
 * bound once). prom-client's `observe` costs
 * ~0.5 µs (a closure, label checks and hashing, and each bucket bound turned
 * into a property name), a noticeable share of a frame's server CPU; this
 * one is a loop over the bounds and three additions.
 *
 * @module
 */
import type { Registry } from "prom-client";

/** Options of a {@link RunningHistogram}. */
export interface RunningHistogramOptions {
  name: string;
  help: string;
  /** Upper bounds of the buckets, ascending (`+Inf` is implied). */
  buckets: readonly number[];
  /** Registries to register with. */
  registers: readonly Registry[];
  /** Observed through labelled series ({@link RunningHistogram.series}) only. */
  labelled?: boolean;
}

/** One exported value, with the keys prom-client's histogram gives it. */
export interface HistogramValue {
  labels: Record<string, number | string>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

/** What the registry reads (prom-client's typings call `type` an enum; it is the string). */
export interface ExportedHistogram {
  name: string;
  help: string;
  type: "histogram";
  values: HistogramValue[];
  aggregator: "sum";
}

type Exported = ExportedHistogram;

/**
 * One label set's observations, bound once: its `observe` hashes no labels
 * and allocates nothing (prom-client's labelled `observe` validated and
 * hashed the label object on every call).
 */
export class HistogramSeries {
  /** The label values (shared by every exported value of the series). */
  readonly labels: Record<string, string>;
  readonly #owner: RunningHistogram;
  readonly #bounds: Float64Array;
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  /** Exported (observed or zeroed since the last reset). */
  shown = false;

  constructor(owner: RunningHistogram, bounds: Float64Array, labels: Record<string, string>) {
    this.#owner = owner;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
    this.labels = labels;
  }

  /** Counts `value` (a finite number; the caller filters) `times` times. */
  observe(value: number, times = 1): void {
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]) {
        this.counts[i] += times;
        break;
      }
    }
    this.sum += value * times;
    this.count += times;
    if (!this.shown) this.#owner.show(this);
  }

  /** Back to no observations. */
  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * A histogram whose `observe` allocates nothing: label-less ({@link observe}),
 * or with labels through series bound once ({@link series}).
 */
export class RunningHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram" as const;
  readonly aggregator = "sum" as const;
  readonly #bounds: Float64Array;
  /** Every series made, by its label values. */
  readonly #series = new Map<string, HistogramSeries>();
  /** The series exported, in the order they were first observed or zeroed since the last reset. */
  #shown: HistogramSeries[] = [];
  /** The one series of a label-less histogram (null with labels). */
  readonly #unlabelled: HistogramSeries | null;

  constructor(options: RunningHistogramOptions) {
    this.name = options.name;
    this.help = options.help;
    this.#bounds = Float64Array.from(options.buckets);
    // A label-less histogram is exported at zero from the start, as prom-client's.
    this.#unlabelled = options.labelled ? null : this.zero({});
    for (const registry of options.registers) {
      registry.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
    }
  }

  /** Counts `value` (a finite number; the caller filters) `times` times in a label-less histogram. */
  observe(value: number, times = 1): void {
    this.#unlabelled!.observe(value, times);
  }

  /**
   * The series of `labels` (made once, then the same object): exported once
   * observed or zeroed, like a prom-client label set.
   */
  series(labels: Record<string, string>): HistogramSeries {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new HistogramSeries(this, this.#bounds, labels);
      this.#series.set(key, series);
    }
    return series;
  }

  /** The series of `labels` at zero and exported (prom-client's `zero`). */
  zero(labels: Record<string, string>): HistogramSeries {
    const series = this.series(labels);
    series.clear();
    if (!series.shown) this.show(series);
    return series;
  }

  /** Marks `series` exported (its first observation since a reset). */
  show(series: HistogramSeries): void {
    series.shown = true;
    this.#shown.push(series);
  }

  /** Back to no observations and no series exported (`Registry.resetMetrics`). */
  reset(): void {
    for (const series of this.#series.values()) {
      series.clear();
      series.shown = false;
    }
    this.#shown = [];
  }

  /** The values as prom-client's `Histogram.getForPromString` gives them (the registry's exposition). */
  getForPromString(): Promise<Exported> {
    return Promise.resolve(this.#export(true));
  }

  /** The values as prom-client's `Histogram.get` gives them (JSON). */
  get(): Promise<Exported> {
    return Promise.resolve(this.#export(false));
  }

  /**
   * Per series: the buckets (cumulative), `+Inf`, `_sum` and `_count`, each
   * value with the keys prom-client gives it: the series' labels as
   * `sharedLabels` before the registry merges them (`forPromString`), folded
   * into `labels` (after `le`) otherwise.
   */
  #export(forPromString: boolean): Exported {
    const bucket = `${this.name}_bucket`;
    const value = (
      labels: Record<string, number | string>,
      shared: Record<string, string>,
      value: number,
      metricName: string,
      exemplar: null | undefined,
    ): HistogramValue =>
      forPromString
        ? { labels, sharedLabels: shared, value, metricName, exemplar }
        : { value, metricName, exemplar, labels: Object.assign(labels, shared) };
    const values: HistogramValue[] = [];
    for (const series of this.#shown) {
      const shared = series.labels;
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.counts[i];
        values.push(value({ le: this.#bounds[i] }, shared, cumulative, bucket, null));
      }
      values.push(
        value({ le: "+Inf" }, shared, series.count, bucket, null),
        value({}, shared, series.sum, `${this.name}_sum`, undefined),
        value({}, shared, series.count, `${this.name}_count`, undefined),
      );
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }
}
