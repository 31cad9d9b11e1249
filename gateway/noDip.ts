import { LRUCache } from "lru-cache";

// A cumulative value on a screen must never go down. Links compute the same values but not at the same
// pace: right after a switch the new link may be a little behind the old one. The guard remembers the
// highest value served per metric, dimension, key and business day and serves that (flagged stale) while a
// link returns less, until the link catches up. Memory is bounded: the least recently served entries are
// forgotten first, which only weakens the guard for keys nobody is looking at.

export interface Guarded {
  value: number;
  /** True when the link's value was lower than one already served, which is served instead. */
  raised: boolean;
}

export class NoDipGuard {
  private readonly highest: LRUCache<string, number>;

  constructor(maxEntries: number) {
    this.highest = new LRUCache({ max: maxEntries });
  }

  guard(metric: string, dim: string, key: string, date: string, value: number): Guarded {
    const id = `${metric}|${dim}|${key}|${date}`;
    const served = this.highest.get(id);
    if (served !== undefined && served > value) return { value: served, raised: true };
    if (served !== value) this.highest.set(id, value);
    return { value, raised: false };
  }

  get size(): number {
    return this.highest.size;
  }
}
