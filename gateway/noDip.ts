import { PerApp } from "./perApp.ts";

// A cumulative value on a screen must never go down. Links compute the same values but not at the same
// pace: right after a switch the new link may be a little behind the old one. The guard remembers the
// highest value served per metric, dimension, key and business day and serves that (flagged stale) while a
// link returns less, until the link catches up. Memory is bounded: the least recently served entries are
// forgotten first, which only weakens the guard for keys nobody is looking at. What was served is remembered
// per calling application (gateway/perApp.ts): an application's screens never saw what another was served, and
// one application's reads of many keys cannot evict what the screens' guard remembers.

// An answer lower than what was served is not always a link going back: the micro-cache holds each view of a
// key (its value read, its entry in a top list, a batch query) from the moment it was read, so a view read
// earlier from the same link can be lower than one read later. Such an older view is raised like any other
// but is not stale: what is served is what the link holds now. Only a lower answer that is not older (another
// link, or the same link at a later watermark) means the serving link is behind, and is flagged stale.
// Zero is never remembered: an absent key reads as zero, and remembering it would let any caller fill the
// guard with keys that do not exist.

export interface Guarded {
  value: number;
  /** The link's value was lower than one already served, which is served instead. */
  raised: boolean;
  /** Raised, and not because the answer was an older view: the serving link is behind what was served. */
  behind: boolean;
}

/** Where an answer came from: its link and that link's watermark when it was read (epoch ms; 0 unknown). */
export interface AnswerOrigin {
  link: string;
  asOf: number;
}

interface Served {
  value: number;
  link: string;
  asOf: number;
}

/** What the guard remembers a value under: a metric, dimension, key and business day. */
export function guardId(metric: string, dim: string, key: string, date: string): string {
  return `${metric}|${dim}|${key}|${date}`;
}

export class NoDipGuard {
  private readonly highest: PerApp<Served>;

  constructor(maxEntries: number) {
    this.highest = new PerApp({ max: maxEntries });
  }

  /** The value to serve `app` for a metric, dimension, key and day when a link answers `value`. */
  guard(
    app: string,
    metric: string,
    dim: string,
    key: string,
    date: string,
    value: number,
    from: AnswerOrigin,
  ): Guarded {
    const id = guardId(metric, dim, key, date);
    const highest = this.highest.of(app);
    const served = highest.get(id);
    if (served !== undefined && served.value > value) {
      const olderView = served.link === from.link && from.asOf <= served.asOf;
      return { value: served.value, raised: true, behind: !olderView };
    }
    if (value !== 0 && (served === undefined || served.value !== value || served.link !== from.link))
      highest.set(id, { value, link: from.link, asOf: from.asOf });
    return { value, raised: false, behind: false };
  }

  /**
   * Whether guard() would serve `value` from `link` as it is, changing nothing: it is what the guard
   * remembers for `app` under `id`. Counts as a use of the entry, as guard() does.
   */
  unchanged(app: string, id: string, value: number, link: string): boolean {
    const served = this.highest.of(app).get(id);
    return served !== undefined && served.value === value && served.link === link;
  }

  get size(): number {
    return this.highest.size;
  }

  sizes(): Record<string, number> {
    return this.highest.sizes();
  }
}
