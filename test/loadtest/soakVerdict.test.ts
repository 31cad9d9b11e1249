import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AFTER_FAILOVER,
  type Bounds,
  DOWN,
  judge,
  type PageMetrics,
  RECOVERED,
  type Sample,
  STEADY,
  slope,
} from "../../loadtest/screenSoak/verdict.ts";

// Each rule of the big-screen soak's verdict shown to catch what it is for, and to leave a healthy run alone.

const BOUNDS: Bounds = {
  heapBytesPerHour: 5 * 1048576,
  nodesPerHour: 1_000,
  frozenWindowMs: 10_000,
  timeFactor: 1,
};
const MIB = 1048576;

const page = (heapUsed: number, nodes: number): PageMetrics => ({
  heapUsed,
  nodes,
  listeners: 14,
  layouts: 0,
  scriptSeconds: 0,
});

/** One sample a second (ten minutes by default) of a healthy page: moving figures, a little heap noise. */
function healthyRun(seconds = 600): Sample[] {
  return Array.from({ length: seconds }, (_, i) => ({
    t: i * 1_000,
    screen: page(2 * MIB + (i % 7) * 20_000, 240 + (i % 3)),
    console: page(1 * MIB + (i % 5) * 10_000, 600),
    streamConnections: 1,
    shown: { gmv: 1_000 + i * 10, paid_orders: 10 + i, buyers: 5 + Math.floor(i / 2) },
    api: { gmv: 1_005 + i * 10, paid_orders: 10 + i, buyers: 5 + Math.floor(i / 2) },
    link: "a",
    status: "live",
    date: "2026-12-03",
    phase: STEADY,
  }));
}

const rules = (samples: Sample[]) => judge(samples, BOUNDS).findings.map((f) => f.rule);

describe("big-screen soak verdict", () => {
  test("passes a healthy run", () => {
    const verdict = judge(healthyRun(), BOUNDS);
    assert.deepEqual(verdict.findings, []);
    assert.ok(verdict.ok);
  });

  test("fits the slope by least squares", () => {
    assert.equal(
      slope([
        { x: 0, y: 1 },
        { x: 1, y: 3 },
        { x: 2, y: 5 },
      ]),
      2,
    );
    assert.equal(slope([{ x: 0, y: 1 }]), 0);
  });

  test("a heap or DOM that keeps growing over the second half is a leak; growth only in the first half is not", () => {
    const heap = healthyRun().map((s) => ({
      ...s,
      screen: page(s.screen.heapUsed + s.t * 10, s.screen.nodes),
    }));
    assert.deepEqual(rules(heap), ["leak"]);
    assert.match(
      judge(heap, BOUNDS).findings[0]?.message ?? "",
      /screen: JS heap grows 34\.\d+ MiB per hour/,
    );
    // The console's DOM, judged once the second half outlasts the console's own fill-up (CONSOLE_FILL_MS).
    const consoleGrowth = (s: Sample) => ({
      ...s,
      console: page(s.console.heapUsed, 600 + Math.floor(s.t / 1_000)),
    });
    assert.deepEqual(rules(healthyRun(1_800).map(consoleGrowth)), ["leak"]);
    assert.deepEqual(rules(healthyRun(600).map(consoleGrowth)), []);
    const early = healthyRun().map((s) => ({
      ...s,
      screen: page(s.screen.heapUsed + Math.min(s.t, 200_000) * 10, 240),
    }));
    assert.deepEqual(rules(early), []);
    // --fast: the same growth spread over twenty times as many updates is within bounds.
    assert.deepEqual(judge(heap, { ...BOUNDS, timeFactor: 20 }).findings, []);
  });

  test("a figure that stands still while the API's moves is frozen", () => {
    const run = healthyRun().map((s) =>
      s.t >= 300_000 && s.t < 320_000 ? { ...s, shown: { ...s.shown, gmv: 3_990 } } : s,
    );
    assert.deepEqual(rules(run), ["frozen"]);
    // Standing still while the API stands still too (every link down, last-known values) is not.
    const quiet = healthyRun().map((s) =>
      s.t >= 300_000 && s.t < 320_000
        ? { ...s, shown: { ...s.shown, gmv: 3_990 }, api: { ...s.api, gmv: 3_995 } }
        : s,
    );
    assert.deepEqual(rules(quiet), []);
  });

  test("a cumulative figure that goes down is a dip, except at the start of a new business day", () => {
    const run = healthyRun();
    run[400] = { ...(run[400] as Sample), shown: { ...(run[400] as Sample).shown, paid_orders: 5 } };
    assert.deepEqual(rules(run), ["dip"]);
    assert.match(judge(run, BOUNDS).findings[0]?.message ?? "", /paid_orders: the page showed 5 at 400\.0 s/);
    const midnight = healthyRun().map((s, i) =>
      i >= 400 ? { ...s, date: "2026-12-04", shown: { ...s.shown, gmv: (s.shown.gmv ?? 0) - 4_000 } } : s,
    );
    assert.ok(!rules(midnight).includes("dip"));
  });

  test("every link down and the page still saying live, or a failover it never shows, are findings", () => {
    const phased = healthyRun().map((s) => ({
      ...s,
      phase: s.t < 100_000 ? STEADY : s.t < 200_000 ? AFTER_FAILOVER : s.t < 250_000 ? DOWN : RECOVERED,
    }));
    assert.deepEqual(
      judge(phased, BOUNDS, "b").findings.map((f) => f.rule),
      ["stale", "link"],
    );
    const shown = phased.map((s) => ({
      ...s,
      link: s.phase === STEADY ? "a" : "b",
      status: s.phase === DOWN ? "stale" : "live",
    }));
    assert.deepEqual(judge(shown, BOUNDS, "b").findings, []);
  });
});
