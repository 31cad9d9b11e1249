// The rate profile: how many events per second of event time the collection layer sees. A base rate and
// one peak (the midnight spike of a shopping festival): `multiplier` times the base rate, starting
// `afterMs` into the run and lasting `durationMs`. It drives the virtual clock, so it shapes event times
// whether or not sending is paced to the wall clock.

export interface RateProfile {
  /** Events per second outside the peak; must be positive. */
  baseRate: number;
  peakMultiplier: number;
  peakAfterMs: number;
  peakDurationMs: number;
}

export function validateProfile(p: RateProfile): void {
  if (!(p.baseRate > 0)) throw new RangeError(`baseRate must be positive, got ${p.baseRate}`);
  if (!(p.peakMultiplier >= 1))
    throw new RangeError(`peakMultiplier must be at least 1, got ${p.peakMultiplier}`);
  if (p.peakAfterMs < 0 || p.peakDurationMs < 0) throw new RangeError("peak times must not be negative");
}

export function inPeak(p: RateProfile, elapsedMs: number): boolean {
  return elapsedMs >= p.peakAfterMs && elapsedMs < p.peakAfterMs + p.peakDurationMs;
}

/** Milliseconds of event time between two consecutive events at `elapsedMs` into the run. */
export function intervalAt(p: RateProfile, elapsedMs: number): number {
  return 1000 / (inPeak(p, elapsedMs) ? p.baseRate * p.peakMultiplier : p.baseRate);
}
