/**
 * The benchmark's arithmetic: percentiles, medians of runs, server/floor
 * ratios and the targets. Pure, so test/node/bench-stats.test.ts pins it.
 */

/** Nearest-rank percentile of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  if (p <= 0) return sorted[0]!;
  if (p >= 100) return sorted[sorted.length - 1]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
}

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    count: arr.length,
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    max: arr.length ? arr[arr.length - 1]! : NaN,
    mean: arr.length ? sum / arr.length : NaN,
  };
}

/** Median of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** One run's numbers, by metric name. */
export type Metrics = Record<string, number>;

/** The median of each metric over runs (a metric missing from a run is skipped for that run). */
export function medianMetrics(runs: readonly Metrics[]): Metrics {
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  const out: Metrics = {};
  for (const k of keys) out[k] = median(runs.map((r) => r[k] ?? NaN));
  return out;
}

/**
 * Medians over runs, except `worst` metrics (loss, duplicates, reorders,
 * errors): those take the largest value, so one bad run is never hidden.
 */
export function aggregateRuns(runs: readonly Metrics[], worst: ReadonlySet<string>): Metrics {
  const out = medianMetrics(runs);
  for (const k of Object.keys(out)) {
    if (!worst.has(k)) continue;
    const values = runs.map((r) => r[k]).filter((v): v is number => v !== undefined && !Number.isNaN(v));
    out[k] = values.length ? Math.max(...values) : NaN;
  }
  return out;
}

/** server / floor, or NaN when either is missing or the floor is 0. */
export function ratio(server: number | undefined, floor: number | undefined): number {
  if (server === undefined || floor === undefined || !Number.isFinite(server) || !Number.isFinite(floor) || floor === 0) return NaN;
  return server / floor;
}

export function ratios(server: Metrics, floor: Metrics): Metrics {
  const out: Metrics = {};
  for (const k of Object.keys(server)) if (k in floor) out[k] = ratio(server[k], floor[k]);
  return out;
}

export interface TargetSpec {
  /** What docs/performance.md says, e.g. "pairs throughput >= 0.5x floor". */
  label: string;
  scenario: string;
  metric: string;
  /** Compare the server/floor ratio, or the server's own value. */
  of: "ratio" | "server";
  op: ">=" | "<=" | "==";
  threshold: number;
}

export interface TargetResult extends TargetSpec {
  value: number;
  /** null: not measured in this run (scenario skipped or no data). */
  met: boolean | null;
}

export function compare(value: number, op: TargetSpec["op"], threshold: number): boolean | null {
  if (!Number.isFinite(value)) return null;
  if (op === ">=") return value >= threshold;
  if (op === "<=") return value <= threshold;
  return value === threshold;
}

export interface ScenarioMedians {
  server?: Metrics;
  floor?: Metrics;
  ratio?: Metrics;
}

export function evaluateTargets(specs: readonly TargetSpec[], results: Readonly<Record<string, ScenarioMedians>>): TargetResult[] {
  return specs.map((spec) => {
    const scenario = results[spec.scenario];
    const source = spec.of === "ratio" ? scenario?.ratio : scenario?.server;
    const value = source?.[spec.metric] ?? NaN;
    return { ...spec, value, met: compare(value, spec.op, spec.threshold) };
  });
}

/** The empirical CDF at most `points` steps: [value, fraction <= value]. */
export function cdf(samples: readonly number[], points = 200): [number, number][] {
  if (samples.length === 0) return [];
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const step = Math.max(1, Math.floor(n / points));
  const out: [number, number][] = [];
  for (let i = step - 1; i < n; i += step) out.push([sorted[i]!, (i + 1) / n]);
  if (out.at(-1)?.[1] !== 1) out.push([sorted[n - 1]!, 1]);
  return out;
}
