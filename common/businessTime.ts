// Business day and minute buckets by event time in a configured time zone (default Asia/Shanghai).
// Intl is far too slow to call per event, so the zone's UTC offset is computed once per hour of event time
// and cached: offsets only change on hour boundaries in every real zone.

export const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export interface Bucket {
  /** Business day, YYYY-MM-DD in the zone. */
  date: string;
  /** Minute of that day, HHMM in the zone. */
  minute: string;
  /** Epoch ms at which the minute starts. */
  minuteStart: number;
}

export class BusinessClock {
  private readonly offsets = new Map<number, number>();
  private readonly format: Intl.DateTimeFormat;
  private last: Bucket | undefined;

  constructor(readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
  }

  /** Throws RangeError for a zone Intl does not know; call at start to validate configuration. */
  static validate(timeZone: string): void {
    new Intl.DateTimeFormat("en-US", { timeZone });
  }

  offsetAt(epochMs: number): number {
    const hour = Math.floor(epochMs / HOUR_MS);
    let offset = this.offsets.get(hour);
    if (offset === undefined) {
      const at = hour * HOUR_MS;
      const parts = this.format.formatToParts(at);
      const p = (type: string) => Number(parts.find((x) => x.type === type)?.value);
      const asUtc = Date.UTC(p("year"), p("month") - 1, p("day"), p("hour"), p("minute"), p("second"));
      offset = asUtc - at;
      if (this.offsets.size > 10_000) this.offsets.clear();
      this.offsets.set(hour, offset);
    }
    return offset;
  }

  bucket(epochMs: number): Bucket {
    const minuteStart = Math.floor(epochMs / MINUTE_MS) * MINUTE_MS;
    // Events arrive roughly in time order, so most fall in the minute of the one before.
    if (this.last?.minuteStart === minuteStart) return this.last;
    const local = new Date(minuteStart + this.offsetAt(epochMs));
    const date = local.toISOString().slice(0, 10);
    const minute = `${pad(local.getUTCHours())}${pad(local.getUTCMinutes())}`;
    this.last = { date, minute, minuteStart };
    return this.last;
  }

  /**
   * The business day containing an instant, from the bucket of its minute: the same day, as zone offsets are
   * whole minutes (a minute never straddles a business midnight), without formatting a date on every call.
   */
  dateOf(epochMs: number): string {
    return this.bucket(epochMs).date;
  }

  /** Epoch ms of a local date and HHMM in the zone (for series queries). */
  instantOf(date: string, minute = "0000"): number {
    const naive = Date.UTC(
      +date.slice(0, 4),
      +date.slice(5, 7) - 1,
      +date.slice(8, 10),
      +minute.slice(0, 2),
      +minute.slice(2, 4),
    );
    return naive - this.offsetAt(naive - this.offsetAt(naive));
  }
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
