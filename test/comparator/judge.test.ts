import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Judge, type JudgeSettings, type LinkJudgement, type StateChange } from "../../comparator/judge.ts";
import type { Observation } from "../../comparator/observation.ts";
import type { ScrubMismatch } from "../../comparator/scrub.ts";

// The judging rules probe by probe, on made-up observations: no Redis, no clock.

const SETTINGS: JudgeSettings = {
  heartbeatStaleMs: 2_000,
  lagBoundMs: 2_000,
  lagBoundRecords: 100,
  hysteresisProbes: 3,
  gapWindow: 4,
};
const T0 = 1_700_000_000_000;
const PROBE_MS = 250;

interface LinkInput {
  error?: string;
  heartbeatAgeMs?: number | null;
  watermarkBehindMs?: number;
  /** A watermark that stays put (a stalled processor), instead of one that follows the clock. */
  watermark?: number;
  lagRecords?: number | null;
  values?: Record<string, number>;
  digests?: Record<string, string>;
  incomplete?: string[];
  closedThrough?: number;
  scrub?: ScrubMismatch[];
}

function observation(link: string, now: number, input: LinkInput = {}): Observation {
  const heartbeatAge = input.heartbeatAgeMs === undefined ? 100 : input.heartbeatAgeMs;
  return {
    link,
    at: now,
    error: input.error ?? null,
    progress: {
      watermark: input.watermark ?? now - 500 - (input.watermarkBehindMs ?? 0),
      partitions: {},
      closedThrough: input.closedThrough ?? 0,
      heartbeat: heartbeatAge === null ? 0 : now - heartbeatAge,
    },
    lagRecords: input.lagRecords === undefined ? 0 : input.lagRecords,
    date: "2026-11-21",
    values: input.values ?? { gmv: 1_000 },
    digests: input.digests ?? {},
    incomplete: input.incomplete ?? [],
    scrub: input.scrub ?? [],
  };
}

/** Drives a judge probe by probe; `inputs` gives each link's input at probe n. */
class Run {
  readonly judge: Judge;
  readonly changes: StateChange[] = [];
  probe = 0;
  last: LinkJudgement[] = [];

  constructor(
    readonly links: string[],
    settings: JudgeSettings = SETTINGS,
  ) {
    this.judge = new Judge(links, settings, T0);
  }

  step(inputs: (link: string, n: number) => LinkInput = () => ({})): LinkJudgement[] {
    this.probe += 1;
    const now = T0 + this.probe * PROBE_MS;
    const result = this.judge.step(
      this.links.map((l) => observation(l, now, inputs(l, this.probe))),
      now,
    );
    this.changes.push(...result.changes);
    this.last = result.links;
    return result.links;
  }

  steps(count: number, inputs?: (link: string, n: number) => LinkInput): void {
    for (let i = 0; i < count; i++) this.step(inputs);
  }

  state(link: string): string {
    return this.of(link).state;
  }

  of(link: string): LinkJudgement {
    const j = this.last.find((x) => x.link === link);
    assert.ok(j, `no judgement of ${link}`);
    return j;
  }

  /** All links healthy after the start-up hysteresis. */
  static healthy(links: string[], settings?: JudgeSettings): Run {
    const run = new Run(links, settings);
    run.steps(SETTINGS.hysteresisProbes);
    for (const l of links) assert.equal(run.state(l), "healthy");
    run.changes.length = 0;
    return run;
  }
}

describe("judge: down", () => {
  it("marks a link whose Redis does not answer down after HYSTERESIS_PROBES probes, with the error", () => {
    const run = Run.healthy(["a", "b", "c"]);
    const failing = (l: string) => (l === "b" ? { error: "connect ECONNREFUSED" } : {});
    run.step(failing);
    run.step(failing);
    assert.equal(run.state("b"), "healthy");
    assert.deepEqual(run.of("b").pending, { state: "down", probes: 2 });
    run.step(failing);
    assert.equal(run.state("b"), "down");
    const [change] = run.changes;
    assert.equal(change?.link, "b");
    assert.equal(change?.from, "healthy");
    assert.equal(change?.to, "down");
    assert.equal(change?.findings[0]?.rule, "unreachable");
    assert.equal(change?.findings[0]?.evidence.error, "connect ECONNREFUSED");
    assert.equal(change?.onset, T0 + 3 * PROBE_MS, "the fault began after the last probe that got an answer");
    assert.equal(run.state("a"), "healthy");
  });

  it("marks a link down when its newest heartbeat is older than HEARTBEAT_STALE, or absent", () => {
    const run = Run.healthy(["a", "b", "c"]);
    run.steps(3, (l) => (l === "a" ? { heartbeatAgeMs: 2_001 } : l === "c" ? { heartbeatAgeMs: null } : {}));
    assert.equal(run.state("a"), "down");
    assert.equal(run.state("c"), "down");
    assert.equal(run.state("b"), "healthy");
    const stale = run.of("a").findings[0];
    assert.equal(stale?.rule, "heartbeat_stale");
    assert.equal(stale?.evidence.ageMs, 2_001);
    assert.equal(stale?.evidence.boundMs, 2_000);
    assert.equal(run.of("c").findings[0]?.detail, "no processor heartbeat");
  });

  it("keeps a heartbeat exactly at the bound healthy", () => {
    const run = Run.healthy(["a", "b"]);
    run.steps(5, (l) => (l === "a" ? { heartbeatAgeMs: 2_000 } : {}));
    assert.equal(run.state("a"), "healthy");
  });
});

describe("judge: lagging", () => {
  it("marks a link lagging when its watermark is behind the best by more than LAG_BOUND_MS", () => {
    const run = Run.healthy(["a", "b", "c"]);
    run.steps(3, (l) =>
      l === "b" ? { watermarkBehindMs: 2_001 } : l === "c" ? { watermarkBehindMs: 2_000 } : {},
    );
    assert.equal(run.state("b"), "lagging");
    assert.equal(run.state("c"), "healthy", "at the bound is within it");
    const f = run.of("b").findings[0];
    assert.equal(f?.rule, "watermark_behind");
    assert.equal(f?.evidence.behindMs, 2_001);
    assert.equal(f?.evidence.bestLink, "a");
    assert.equal(f?.evidence.boundMs, 2_000);
  });

  it("marks a link lagging on Kafka lag above the least-lagging link's by more than LAG_BOUND_RECORDS", () => {
    const run = Run.healthy(["a", "b", "c"]);
    run.steps(3, (l) => ({ lagRecords: l === "a" ? 150 : l === "b" ? 251 : null }));
    assert.equal(run.state("b"), "lagging");
    const f = run.of("b").findings[0];
    assert.equal(f?.rule, "consumer_lag");
    assert.equal(f?.evidence.behindRecords, 101);
    assert.equal(f?.evidence.bestLink, "a");
    assert.equal(run.state("a"), "healthy");
    assert.equal(run.state("c"), "healthy", "an unknown lag is no finding");
  });
});

describe("judge: diverged by closed-minute digests", () => {
  const agreeing = { "1200|gmv": "d0", "1201|gmv": "d1", "1202|gmv": "d2" };

  it("marks the link whose closed minute differs from the majority diverged, and only that link", () => {
    for (const odd of ["a", "b", "c"]) {
      const run = Run.healthy(["a", "b", "c"]);
      run.steps(3, (l) => ({ digests: l === odd ? { ...agreeing, "1201|gmv": "other" } : agreeing }));
      for (const l of ["a", "b", "c"])
        assert.equal(run.state(l), l === odd ? "diverged" : "healthy", `odd=${odd}`);
      const f = run.of(odd).findings[0];
      assert.equal(f?.rule, "digest_mismatch");
      assert.equal(f?.evidence.minute, "1201");
      assert.equal(f?.evidence.metric, "gmv");
      assert.equal(f?.evidence.majorityDigest, "d1");
      assert.deepEqual(f?.evidence.digests, { a: "d1", b: "d1", c: "d1", [odd]: "other" });
    }
  });

  it("compares a minute only among the links that have closed it", () => {
    const run = Run.healthy(["a", "b", "c"]);
    const digests: Record<string, Record<string, string>> = {
      a: { "1200|gmv": "d0" },
      b: { "1200|gmv": "d0", "1201|gmv": "x" },
      c: agreeing,
    };
    run.steps(3, (l) => ({ digests: digests[l] }));
    assert.equal(run.state("a"), "healthy");
    assert.equal(run.state("b"), "healthy", "two holders of 1201 make no majority");
    assert.equal(run.of("b").suspicions[0]?.rule, "digest_mismatch");
    assert.equal(run.of("c").suspicions[0]?.evidence.minute, "1201");
  });

  it("with only two links reports both as suspect and judges neither", () => {
    const run = Run.healthy(["a", "b"]);
    run.steps(5, (l) => ({ digests: l === "a" ? agreeing : { ...agreeing, "1202|gmv": "x" } }));
    assert.equal(run.state("a"), "healthy");
    assert.equal(run.state("b"), "healthy");
    assert.equal(run.of("a").suspicions.length, 1);
    assert.equal(run.of("b").suspicions.length, 1);
    assert.match(run.of("a").suspicions[0]?.detail ?? "", /no majority/);
    assert.equal(run.changes.length, 0);
  });

  it("does not let a down link's missing digests count against the others", () => {
    const run = Run.healthy(["a", "b", "c"]);
    run.steps(3, (l) => (l === "c" ? { error: "timeout" } : { digests: agreeing }));
    assert.equal(run.state("a"), "healthy");
    assert.equal(run.state("b"), "healthy");
    assert.equal(run.state("c"), "down");
  });

  it("leaves out a metric that some link does not hold whole for the day, and says so", () => {
    const run = Run.healthy(["a", "b", "c"]);
    const digests = { "1200|gmv": "d0", "1200|ad_reach": "r0" };
    run.steps(3, (l) => ({
      digests: l === "c" ? { ...digests, "1200|ad_reach": "other" } : digests,
      incomplete: l === "c" ? ["ad_reach"] : [],
    }));
    for (const l of ["a", "b", "c"]) assert.equal(run.state(l), "healthy");
    assert.deepEqual(run.of("a").notCompared, ["ad_reach"]);
    run.steps(3, (l) => ({
      digests: l === "c" ? { ...digests, "1200|gmv": "other" } : digests,
      incomplete: l === "c" ? ["ad_reach"] : [],
    }));
    assert.equal(run.state("c"), "diverged", "the metrics every link holds are still compared");
    assert.deepEqual(run.of("c").findings[0]?.evidence.notCompared, ["ad_reach"]);
  });
});

describe("judge: diverged by the scrub", () => {
  const mismatch = (metric: string | null): ScrubMismatch => ({
    check: metric === null ? "offset_back" : "minute_digest",
    date: "2026-11-21",
    minute: metric === null ? null : "1200",
    metric,
    dim: null,
    key: metric === null ? "trade.orders:0" : null,
    stored: "s0",
    derived: "d0",
    foundAt: T0,
  });

  it("marks a link whose scrub finds a mismatch diverged after HYSTERESIS_PROBES probes, with the mismatch", () => {
    const run = Run.healthy(["a", "b", "c"]);
    run.steps(2, (l) => ({ scrub: l === "c" ? [mismatch("gmv")] : [] }));
    assert.equal(run.state("c"), "healthy");
    run.step((l) => ({ scrub: l === "c" ? [mismatch("gmv")] : [] }));
    assert.equal(run.state("c"), "diverged");
    const [finding] = run.of("c").findings;
    assert.equal(finding?.rule, "scrub_mismatch");
    assert.deepEqual(finding?.evidence.all, [mismatch("gmv")]);
    assert.equal(finding?.evidence.minute, "1200");
    for (const l of ["a", "b"]) assert.equal(run.state(l), "healthy");
  });

  it("does not judge a metric the link does not hold whole, but judges offsets whatever the metrics", () => {
    const run = Run.healthy(["a", "b", "c"]);
    run.steps(4, (l) => ({
      scrub: l === "c" ? [mismatch("ad_reach")] : [],
      incomplete: l === "c" ? ["ad_reach"] : [],
    }));
    assert.equal(run.state("c"), "healthy");
    run.steps(3, (l) => ({ scrub: l === "c" ? [mismatch(null)] : [] }));
    assert.equal(run.state("c"), "diverged");
    assert.equal(run.of("c").findings[0]?.evidence.check, "offset_back");
  });
});

describe("judge: diverged by a widening live gap", () => {
  // a and b add 100 per probe; c adds 90: it reads smaller and the difference grows.
  const broken = (l: string, n: number) => ({
    values: { gmv: l === "c" ? 1_000 + 90 * n : 1_000 + 100 * n },
  });

  it("marks a link diverged once its gap grew at every step of GAP_WINDOW probes, plus hysteresis", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(SETTINGS.gapWindow, broken);
    assert.equal(run.of("c").findings.length, 0, "the window is not full yet");
    run.steps(SETTINGS.hysteresisProbes, broken);
    assert.equal(run.state("c"), "diverged");
    assert.equal(run.state("a"), "healthy");
    assert.equal(run.state("b"), "healthy");
    const f = run.of("c").findings[0];
    assert.equal(f?.rule, "widening_gap");
    assert.equal(f?.evidence.metric, "gmv");
    assert.equal(f?.evidence.growth, 40);
    assert.equal((f?.evidence.samples as unknown[] | undefined)?.length, SETTINGS.gapWindow + 1);
    assert.equal(run.of("c").gaps.gmv, 10 * run.probe);
  });

  it("judges the same whichever way the values differ", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(10, (l, n) => ({ values: { gmv: l === "a" ? 1_000 + 110 * n : 1_000 + 100 * n } }));
    assert.equal(run.state("a"), "diverged");
    assert.match(run.of("a").findings[0]?.detail ?? "", /reads larger/);
  });

  it("does not judge a constant or shrinking gap", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(10, (l, n) => ({ values: { gmv: l === "c" ? 1_000 + 100 * n - 50 : 1_000 + 100 * n } }));
    run.steps(10, (l, n) => ({ values: { gmv: l === "c" ? 100 * n + 140 + n : 100 * n + 200 } }));
    assert.equal(run.state("c"), "healthy");
  });

  it("does not judge a gap that only jitters", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(20, (l, n) => ({ values: { gmv: l === "c" ? 100 * n - 50 - (n % 3) * 20 : 100 * n } }));
    assert.equal(run.state("c"), "healthy");
  });

  it("still sees the trend when one probe catches the gap standing still", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(12, (l, n) => ({ values: { gmv: l === "c" ? 90 * n + (n % 4 === 0 ? 10 : 0) : 100 * n } }));
    assert.equal(run.state("c"), "diverged");
  });

  it("does not call a link diverged when its watermark lag explains its gap (a traffic ramp)", () => {
    const run = new Run(["a", "b", "c"]);
    // a and b accelerate; c is four probes (1 s of event time) behind them, within the lag bound.
    run.steps(12, (l, n) =>
      l === "c"
        ? { values: { gmv: 1_000 + Math.max(0, n - 4) ** 2 * 10 }, watermarkBehindMs: 1_000 }
        : { values: { gmv: 1_000 + n ** 2 * 10 } },
    );
    assert.ok((run.of("c").gaps.gmv ?? 0) > 600, "its gap grew all along");
    assert.equal(run.state("c"), "healthy");
  });

  it("does not call a stalled link diverged while its lag is still within the bound", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(11, (l, n) =>
      l === "c" && n > 4
        ? { values: { gmv: 1_000 + 400 }, watermark: T0 + 4 * PROBE_MS - 500 }
        : broken(l, n),
    );
    assert.ok((run.of("c").watermarkBehindMs ?? 0) < SETTINGS.lagBoundMs);
    assert.ok((run.of("c").gaps.gmv ?? 0) > 400, "its gap did widen");
    assert.equal(run.state("c"), "healthy");
  });

  it("calls a lagging link lagging, not diverged, however its gap grows", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(12, (l, n) => ({ ...broken(l, n), watermarkBehindMs: l === "c" ? 5_000 : 0 }));
    assert.equal(run.state("c"), "lagging");
  });

  it("with only two comparable links reports a widening gap as suspect on both", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(12, (l, n) =>
      l === "c" ? { error: "down" } : { values: { gmv: l === "a" ? 90 * n : 100 * n } },
    );
    assert.equal(run.state("a"), "healthy");
    assert.equal(run.state("b"), "healthy");
    assert.equal(run.of("a").suspicions[0]?.rule, "widening_gap");
    assert.equal(run.of("b").suspicions[0]?.rule, "widening_gap");
  });

  it("needs a distinct count's gap to grow by more than its HyperLogLog tolerance, a sum's by any amount", () => {
    const run = new Run(["a", "b", "c"]);
    run.steps(12, (l, n) => ({ values: { buyers: l === "c" ? 5_000 + 9 * n : 5_000 + 10 * n } }));
    assert.equal(run.state("c"), "healthy", "a gap of a few buyers over the window is HyperLogLog noise");
    run.steps(12, (l, n) => ({ values: { gmv: l === "c" ? 5_000 + 9 * n : 5_000 + 10 * n } }));
    assert.equal(run.state("c"), "diverged");
  });
});

describe("judge: hysteresis", () => {
  it("never changes the state of a link that flaps between probes", () => {
    const run = Run.healthy(["a", "b", "c"]);
    run.steps(40, (l, n) => (l === "b" && n % 2 === 0 ? { error: "flap" } : {}));
    run.steps(40, (l, n) => (l === "c" && n % 3 === 0 ? { heartbeatAgeMs: 10_000 } : {}));
    assert.equal(run.state("b"), "healthy");
    assert.equal(run.state("c"), "healthy");
    assert.deepEqual(run.changes, []);
  });

  it("leaves a state after HYSTERESIS_PROBES consecutive disagreeing probes, taking the latest verdict", () => {
    const run = Run.healthy(["a", "b", "c"]);
    const verdicts: LinkInput[] = [
      { watermarkBehindMs: 9_000 },
      { watermarkBehindMs: 9_000 },
      { error: "gone" },
    ];
    for (const v of verdicts) run.step((l) => (l === "b" ? v : {}));
    assert.equal(run.state("b"), "down");
    run.steps(2);
    assert.equal(run.state("b"), "down");
    run.step();
    assert.equal(run.state("b"), "healthy");
    assert.deepEqual(
      run.changes.map((c) => `${c.from}->${c.to}`),
      ["healthy->down", "down->healthy"],
    );
  });

  it("starts every link unknown and counts closed minutes only after a recovery", () => {
    const run = new Run(["a", "b", "c"]);
    run.step();
    assert.equal(run.state("a"), "unknown");
    run.steps(2);
    assert.equal(run.of("a").healthyClosedMinutes, null, "healthy since the start: no recovery to count");
    const closed = (minutes: number) => T0 + minutes * 60_000;
    run.steps(3, (l) =>
      l === "a" ? { error: "gone", closedThrough: closed(0) } : { closedThrough: closed(0) },
    );
    run.steps(3, () => ({ closedThrough: closed(1) }));
    assert.equal(run.of("a").healthyClosedMinutes, 0);
    run.step(() => ({ closedThrough: closed(4) }));
    assert.equal(run.of("a").healthyClosedMinutes, 3);
    assert.equal(run.of("b").healthyClosedMinutes, null);
  });
});
