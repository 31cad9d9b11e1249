import { ApiError } from "../common/httpErrors.ts";

// Reads that cost more than one rate-limit token (a series longer than an hour, a ratio series) are also
// capped in how many one application may have in flight at once. The token bucket bounds what a caller
// reads per second, but a burst within its bucket still lands on the link together: three waves of twenty
// day-long series pushed every other caller's reads to half a second. Past the cap the caller gets a 429
// at once, before anything is read, and other applications are not touched.

export class ExpensiveReads {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly maxPerApp: number) {}

  /** Takes one of `app`'s slots and returns its release, or throws the 429 that says the cap is reached. */
  take(app: string): () => void {
    const held = this.inFlight.get(app) ?? 0;
    if (held >= this.maxPerApp)
      throw new ApiError(
        "expensive_reads_busy",
        `application ${app} has ${held} expensive reads (series over an hour) in flight, its most`,
        undefined,
        1,
      );
    this.inFlight.set(app, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(app) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(app);
      else this.inFlight.set(app, left);
    };
  }
}
