import { LRUCache } from "lru-cache";

// Memory of reads kept apart per calling application: each application has its own bounded LRU, so the
// entries one application creates (however many distinct reads it makes) evict only its own, never what
// another application (the big screens) reads. Applications come from configuration (API_KEYS), so the
// number of partitions, and the memory (applications x entries), is bounded too.

export class PerApp<V extends object> {
  private readonly partitions = new Map<string, LRUCache<string, V>>();

  constructor(private readonly options: LRUCache.Options<string, V, unknown>) {}

  /** The application's partition, created on its first use. */
  of(app: string): LRUCache<string, V> {
    let partition = this.partitions.get(app);
    if (partition === undefined) {
      partition = new LRUCache(this.options);
      this.partitions.set(app, partition);
    }
    return partition;
  }

  clear(): void {
    for (const partition of this.partitions.values()) partition.clear();
  }

  /** Entries across all applications. */
  get size(): number {
    let total = 0;
    for (const partition of this.partitions.values()) total += partition.size;
    return total;
  }

  /** Entries per application. */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.partitions].map(([app, partition]) => [app, partition.size]));
  }
}
