import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import { keys } from "../common/keys.ts";
import type { Logger } from "../common/logger.ts";
import type { DimensionTable } from "../common/sources/source.ts";

const UNKNOWN = "unknown";

/**
 * The small dimension table: category -> industry, loaded whole and reloaded when its file changes. Polling
 * (watchFile) rather than fs.watch because editors and `mv` replace the file, which fs.watch loses track of.
 */
export class CategoryIndustry {
  private table = new Map<string, string>();

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {
    this.load();
    watchFile(file, { interval: 2_000 }, () => this.load());
  }

  lookup = (categoryId: string): string => this.table.get(categoryId) ?? UNKNOWN;

  /** The whole table is in memory: nothing to read per batch. */
  async resolve(): Promise<void> {}

  get size(): number {
    return this.table.size;
  }

  private load(): void {
    try {
      const parsed = JSON.parse(readFileSync(this.file, "utf8")) as Record<string, unknown>;
      const next = new Map<string, string>();
      for (const [category, industry] of Object.entries(parsed)) {
        if (typeof industry === "string") next.set(category, industry);
      }
      this.table = next;
      this.log.info({ file: this.file, categories: next.size }, "category -> industry table loaded");
    } catch (err) {
      this.log.warn(
        { file: this.file, err: (err as Error).message },
        "category table not loaded; industry is 'unknown'",
      );
    }
  }

  close(): void {
    unwatchFile(this.file);
  }
}

/**
 * The large dimension table: seller -> tier lives in the link's Redis and is read through an LRU cache, a
 * batch's missing sellers in one HMGET. Both links read their own copy of the same table.
 */
export class SellerTiers {
  private readonly cache: LRUCache<string, string>;
  hits = 0;
  misses = 0;

  constructor(
    private readonly redis: Redis,
    max: number,
    ttlMs: number,
  ) {
    // ttl 0: entries never go stale (the offline recompute reads a table that no longer changes).
    this.cache = new LRUCache({ max, ttl: ttlMs });
  }

  async resolve(sellerIds: readonly string[]): Promise<void> {
    const missing = sellerIds.filter((id) => !this.cache.has(id));
    this.hits += sellerIds.length - missing.length;
    this.misses += missing.length;
    if (missing.length === 0) return;
    const tiers = await this.redis.hmget(keys.sellerTier, ...missing);
    for (const [i, id] of missing.entries()) this.cache.set(id, tiers[i] ?? UNKNOWN);
  }

  lookup = (sellerId: string): string => this.cache.get(sellerId) ?? UNKNOWN;
}

/**
 * Every dimension table, for an offline recompute or a repair of a link: the category file loaded whole and
 * the link's seller tiers read through a cache that never goes stale (the table no longer changes under it).
 */
export function offlineDimensionTables(
  link: Redis,
  categoryFile: string,
  log: Logger,
): { tables: Record<DimensionTable, CategoryIndustry | SellerTiers>; close(): void } {
  const categories = new CategoryIndustry(categoryFile, log);
  return {
    tables: { category_industry: categories, seller_tier: new SellerTiers(link, 1_000_000, 0) },
    close: () => categories.close(),
  };
}
