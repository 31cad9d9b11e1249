import * as hdr from "hdr-histogram-js";

// The metrics of a run, by k6's names and kinds, so that a scenario's thresholds read the same under k6 and
// under the Node runner: counters (count, rate per second), rates (share of non-zero samples) and trends
// (HDR histograms: avg, min, med, max, p(N)).

/** Trend samples are kept in thousandths (µs for milliseconds), so percentiles keep three decimals. */
const TREND_SCALE = 1000;

export class Counter {
  readonly kind = "counter";
  count = 0;
  add(n = 1): void {
    this.count += n;
  }
}

export class Rate {
  readonly kind = "rate";
  total = 0;
  hits = 0;
  add(hit: boolean): void {
    this.total += 1;
    if (hit) this.hits += 1;
  }
  get rate(): number {
    return this.total === 0 ? 0 : this.hits / this.total;
  }
}

export class Trend {
  readonly kind = "trend";
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  private sum = 0;
  private readonly histogram = hdr.build({ autoResize: true, numberOfSignificantValueDigits: 3 });

  add(value: number): void {
    this.count += 1;
    this.sum += value;
    this.min = Math.min(this.min, value);
    this.max = Math.max(this.max, value);
    this.histogram.recordValue(Math.max(0, Math.round(value * TREND_SCALE)));
  }

  get avg(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  percentile(p: number): number {
    return this.histogram.getValueAtPercentile(p) / TREND_SCALE;
  }
}

export type Metric = Counter | Rate | Trend;

/** Every metric a run records; tagged trends (`http_req_duration{name:top}`) are kept beside their base. */
export class Metrics {
  readonly httpReqs = new Counter();
  readonly httpReqDuration = new Trend();
  readonly httpReqFailed = new Rate();
  readonly iterations = new Counter();
  readonly droppedIterations = new Counter();
  readonly cumulativeDips = new Counter();
  readonly cumulativeDip = new Trend();
  readonly staleAnswers = new Counter();
  readonly gatewayRssMb = new Trend();
  /** Node runner only: requests sent again to another gateway after a connection failed (a load balancer's retry). */
  readonly retriedRequests = new Counter();
  /** Node runner only: how late iterations started against their schedule, in ms (the runner's own lag). */
  readonly scheduleLag = new Trend();
  readonly byKind = new Map<string, Trend>();

  durationOf(kind: string): Trend {
    let trend = this.byKind.get(kind);
    if (!trend) {
      trend = new Trend();
      this.byKind.set(kind, trend);
    }
    return trend;
  }

  /** By k6 name. */
  all(): Map<string, Metric> {
    const named = new Map<string, Metric>([
      ["http_reqs", this.httpReqs],
      ["http_req_duration", this.httpReqDuration],
      ["http_req_failed", this.httpReqFailed],
      ["iterations", this.iterations],
      ["dropped_iterations", this.droppedIterations],
      ["cumulative_dips", this.cumulativeDips],
      ["cumulative_dip", this.cumulativeDip],
      ["stale_answers", this.staleAnswers],
      ["gateway_rss_mb", this.gatewayRssMb],
      ["retried_requests", this.retriedRequests],
      ["schedule_lag", this.scheduleLag],
    ]);
    for (const [kind, trend] of [...this.byKind].sort()) named.set(`http_req_duration{name:${kind}}`, trend);
    return named;
  }
}
