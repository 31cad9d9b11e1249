// The soak's judgement over its samples, a pure function so that each rule is shown to catch what it is for
// (test/screen/soakVerdict.test.ts):
// - leak: the least-squares slope of the JS heap (after a forced garbage collection) or of the DOM node count
//   over the second half of the run, per hour of page time, above its bound (the ops console's only when
//   that half is longer than the console takes to fill up);
// - frozen: a figure the page shows that stays the same for a whole window after the API's value moved;
// - dip: a cumulative figure the page shows that goes down within one business day;
// - stale: every link down (phase DOWN) and the page never says so (its status stays "live");
// - link: an operator failover (phase AFTER_FAILOVER) to a link the page never names.

export const CUMULATIVE = ["gmv", "paid_orders", "buyers"] as const;

export const STEADY = "steady";
export const AFTER_FAILOVER = "after failover";
export const DOWN = "all links down";
export const RECOVERED = "recovered";
export type Figure = (typeof CUMULATIVE)[number];

export interface PageMetrics {
  /** Bytes, after a forced garbage collection. */
  heapUsed: number;
  nodes: number;
  listeners: number;
  layouts: number;
  /** Seconds of script execution since the page opened. */
  scriptSeconds: number;
}

export interface Sample {
  /** Milliseconds since the soak started. */
  t: number;
  screen: PageMetrics;
  console: PageMetrics;
  /** Times the page opened its stream (the first connection included). */
  streamConnections: number;
  /** What the page shows (its data-value), null before it shows one. */
  shown: Record<Figure, number | null>;
  /** What GET /v1/metrics/<figure> answered at the same moment, null when it did not. */
  api: Record<Figure, number | null>;
  /** The link the page says it reads from, its status (live, stale, down…) and its business day. */
  link: string;
  status: string;
  date: string;
  /** What the soak was doing: steady, failover, all links down, recovery. */
  phase: string;
}

export interface Bounds {
  /** Largest acceptable heap growth, bytes per hour of page time. */
  heapBytesPerHour: number;
  /** Largest acceptable DOM growth, nodes per hour of page time. */
  nodesPerHour: number;
  /** How long a figure may stand still while the API's moves, ms. */
  frozenWindowMs: number;
  /** Hours of page time per hour of wall time (--fast pushes updates this much faster). */
  timeFactor: number;
}

export interface Finding {
  rule: "leak" | "frozen" | "dip" | "stale" | "link";
  message: string;
}

export interface Verdict {
  ok: boolean;
  findings: Finding[];
  /** Fitted growth over the second half, per hour of page time, for each page. */
  slopes: { page: "screen" | "console"; heapBytesPerHour: number; nodesPerHour: number }[];
}

/** Least-squares slope of y over x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const HOUR_MS = 3_600_000;
/** How long the ops console's content may grow on its own: its gap chart's five minutes, and some. */
export const CONSOLE_FILL_MS = 10 * 60_000;
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(2)} MiB`;

/** `failoverTo`: the link the operator's failover moved to, when the run made one. */
export function judge(samples: readonly Sample[], bounds: Bounds, failoverTo: string | null = null): Verdict {
  const findings: Finding[] = [];
  const slopes: Verdict["slopes"] = [];
  const end = samples.at(-1)?.t ?? 0;
  const secondHalf = samples.filter((s) => s.t >= end / 2);
  for (const page of ["screen", "console"] as const) {
    // --fast speeds up the screen's stream only; the console keeps the comparator's pace.
    const factor = page === "screen" ? bounds.timeFactor : 1;
    const perPageHour = (pick: (m: PageMetrics) => number) =>
      (slope(secondHalf.map((s) => ({ x: s.t, y: pick(s[page]) }))) * HOUR_MS) / factor;
    const heap = perPageHour((m) => m.heapUsed);
    const nodes = perPageHour((m) => m.nodes);
    slopes.push({ page, heapBytesPerHour: heap, nodesPerHour: nodes });
    // The console fills up for minutes (its gap chart keeps five, its audit trail fifty decisions, which the
    // soak's own failover and outage add): a shorter second half cannot tell that from a leak.
    if (page === "console" && end / 2 < CONSOLE_FILL_MS) continue;
    if (heap > bounds.heapBytesPerHour)
      findings.push({
        rule: "leak",
        message: `${page}: JS heap grows ${mib(heap)} per hour over the second half (bound ${mib(bounds.heapBytesPerHour)})`,
      });
    if (nodes > bounds.nodesPerHour)
      findings.push({
        rule: "leak",
        message: `${page}: DOM grows ${Math.round(nodes)} nodes per hour over the second half (bound ${bounds.nodesPerHour})`,
      });
  }
  for (const figure of CUMULATIVE) {
    findings.push(...frozen(samples, figure, bounds.frozenWindowMs), ...dips(samples, figure));
  }
  findings.push(...phaseFindings(samples, failoverTo));
  return { ok: findings.length === 0, findings, slopes };
}

/** What the page must show through the disruptions, when the run had them. */
function phaseFindings(samples: readonly Sample[], failoverTo: string | null): Finding[] {
  const out: Finding[] = [];
  const down = samples.filter((s) => s.phase === DOWN);
  if (down.length > 0 && down.every((s) => s.status === "live"))
    out.push({
      rule: "stale",
      message: `the page said "live" in all ${down.length} samples while every link was down`,
    });
  const after = samples.filter((s) => s.phase === AFTER_FAILOVER);
  if (failoverTo !== null && after.length > 0 && !after.some((s) => s.link === failoverTo))
    out.push({
      rule: "link",
      message: `the failover moved to link ${failoverTo}; the page named ${[...new Set(after.map((s) => s.link))].join(", ")} after it`,
    });
  return out;
}

/**
 * Stretches where the page showed one value for `windowMs` after the API's value had moved away from what
 * it was when the page last changed: the page stopped following. A page that stands still while the API
 * stands still too (every link down, last-known values) is not frozen, and one that follows within the
 * window after the API moves again is not either.
 */
function frozen(samples: readonly Sample[], figure: Figure, windowMs: number): Finding[] {
  const out: Finding[] = [];
  let stretch: { from: Sample; apiMovedAt: number | null; reported: boolean } | null = null;
  for (const s of samples) {
    const shown = s.shown[figure];
    if (shown === null) continue;
    if (!stretch || stretch.from.shown[figure] !== shown) {
      stretch = { from: s, apiMovedAt: null, reported: false };
      continue;
    }
    const api = s.api[figure];
    if (
      stretch.apiMovedAt === null &&
      api !== null &&
      stretch.from.api[figure] !== null &&
      api !== stretch.from.api[figure]
    )
      stretch.apiMovedAt = s.t;
    if (stretch.apiMovedAt !== null && !stretch.reported && s.t - stretch.apiMovedAt >= windowMs) {
      stretch.reported = true;
      out.push({
        rule: "frozen",
        message: `${figure}: the page showed ${shown} from ${(stretch.from.t / 1000).toFixed(0)} s to ${(s.t / 1000).toFixed(0)} s while the API's value went from ${stretch.from.api[figure]} to ${api}`,
      });
    }
  }
  return out;
}

/** Every fall of a shown cumulative figure within one business day. */
function dips(samples: readonly Sample[], figure: Figure): Finding[] {
  const out: Finding[] = [];
  let highest: { value: number; date: string; t: number } | null = null;
  for (const s of samples) {
    const v = s.shown[figure];
    if (v === null) continue;
    if (highest && highest.date === s.date && v < highest.value)
      out.push({
        rule: "dip",
        message: `${figure}: the page showed ${v} at ${(s.t / 1000).toFixed(1)} s (${s.phase}), below the ${highest.value} it showed at ${(highest.t / 1000).toFixed(1)} s`,
      });
    if (!highest || highest.date !== s.date || v > highest.value)
      highest = { value: v, date: s.date, t: s.t };
  }
  return out;
}
