import type { LinkJudgement } from "./judge.ts";

// The last five minutes of every link's live gaps, one point a second, for the ops console's gap chart.

const GAP_SAMPLE_MS = 1_000;
const GAP_SAMPLES = 300;

export interface GapPoint {
  t: number;
  /** link -> metric -> gap; links that were not comparable at that moment are absent. */
  gaps: Record<string, Record<string, number>>;
}

export class GapHistory {
  private readonly points: GapPoint[] = [];

  /** Keeps the gaps of a probe, at most one point per second. */
  sample(now: number, judgements: readonly LinkJudgement[]): void {
    const last = this.points.at(-1);
    if (last && now - last.t < GAP_SAMPLE_MS) return;
    this.points.push({ t: now, gaps: Object.fromEntries(judgements.map((j) => [j.link, j.gaps])) });
    if (this.points.length > GAP_SAMPLES) this.points.shift();
  }

  view(metric: string): { metric: string; points: { t: number; gaps: Record<string, number> }[] } {
    return {
      metric,
      points: this.points.map((p) => ({
        t: p.t,
        gaps: Object.fromEntries(
          Object.entries(p.gaps).flatMap(([link, byMetric]) =>
            byMetric[metric] === undefined ? [] : [[link, byMetric[metric] as number]],
          ),
        ),
      })),
    };
  }
}
