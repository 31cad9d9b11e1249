import { Rng, Zipf } from "./random.ts";

// Who trades and advertises: sellers, buyers, categories (grouped into industries) and advertisers, each
// with Zipf-like popularity (rank 0, id suffix 1, is the most popular). Everything is derived from the seed
// through its own random stream, so the dimension files and the events agree without sharing state, and
// changes to how events are drawn do not reshuffle the dimensions.

export interface PopulationSizes {
  sellers: number;
  buyers: number;
  categories: number;
  industries: number;
  advertisers: number;
}

export const DEFAULT_POPULATION: PopulationSizes = {
  sellers: 20_000,
  buyers: 1_000_000,
  categories: 300,
  industries: 25,
  advertisers: 2_000,
};

// Zipf exponents: sellers and advertisers concentrate (a hot seller takes several percent of all orders),
// buyers much less so.
const SKEW = { sellers: 1.0, buyers: 0.6, categories: 1.0, advertisers: 1.1 } as const;

const INDUSTRY_NAMES = [
  "apparel",
  "footwear",
  "beauty",
  "personal-care",
  "mother-baby",
  "food",
  "beverages",
  "fresh",
  "health",
  "home",
  "furniture",
  "appliances",
  "phones",
  "computers",
  "digital",
  "sports",
  "outdoor",
  "toys",
  "books",
  "jewelry",
  "luggage",
  "pets",
  "auto",
  "office",
  "services",
];

export const SELLER_TIERS = ["platinum", "gold", "silver", "bronze"] as const;
export type SellerTier = (typeof SELLER_TIERS)[number];

// Share of sellers (by popularity rank) whose tier is at most platinum, gold, silver; the rest are bronze.
const TIER_RANK_SHARE = [0.01, 0.1, 0.4];
const TIER_JITTER = 0.1;

// Per-event prices of each advertiser: CPM (price of a thousand impressions) and CPC, in micros.
const CPM_MICROS = [5_000_000, 60_000_000] as const;
const CPC_MICROS = [300_000, 8_000_000] as const;

export function industryName(index: number): string {
  return INDUSTRY_NAMES[index] ?? `industry-${index + 1}`;
}

export class Population {
  readonly sellers: Zipf;
  readonly buyers: Zipf;
  readonly categories: Zipf;
  readonly advertisers: Zipf;
  readonly sellerIds: string[];
  readonly categoryIds: string[];
  readonly advertiserIds: string[];
  /** Category index -> industry index. */
  readonly categoryIndustry: Uint16Array;
  /** Seller index -> tier index into SELLER_TIERS. */
  readonly sellerTier: Uint8Array;
  /** Seller index -> the category index most of its orders are in. */
  readonly sellerHomeCategory: Uint32Array;
  readonly impressionCostMicros: Uint32Array;
  readonly clickCostMicros: Uint32Array;

  constructor(
    seed: string,
    readonly sizes: PopulationSizes = DEFAULT_POPULATION,
  ) {
    for (const [name, n] of Object.entries(sizes))
      if (!Number.isSafeInteger(n) || n < 1)
        throw new RangeError(`population ${name} must be a positive integer`);
    const rng = new Rng(`${seed}/population`);
    this.sellers = new Zipf(sizes.sellers, SKEW.sellers);
    this.buyers = new Zipf(sizes.buyers, SKEW.buyers);
    this.categories = new Zipf(sizes.categories, SKEW.categories);
    this.advertisers = new Zipf(sizes.advertisers, SKEW.advertisers);
    this.sellerIds = ids("s", sizes.sellers);
    this.categoryIds = ids("c", sizes.categories);
    this.advertiserIds = ids("adv", sizes.advertisers);

    // Every industry gets at least one category, then the rest fall anywhere.
    this.categoryIndustry = new Uint16Array(sizes.categories);
    for (let c = 0; c < sizes.categories; c++)
      this.categoryIndustry[c] = c < sizes.industries ? c : rng.int(sizes.industries);

    this.sellerTier = new Uint8Array(sizes.sellers);
    this.sellerHomeCategory = new Uint32Array(sizes.sellers);
    for (let s = 0; s < sizes.sellers; s++) {
      let tier = TIER_RANK_SHARE.findIndex((share) => s < share * sizes.sellers);
      if (tier < 0) tier = TIER_RANK_SHARE.length;
      if (rng.chance(TIER_JITTER)) tier += rng.chance(0.5) ? 1 : -1;
      this.sellerTier[s] = Math.min(Math.max(tier, 0), SELLER_TIERS.length - 1);
      this.sellerHomeCategory[s] = this.categories.sample(rng);
    }

    this.impressionCostMicros = new Uint32Array(sizes.advertisers);
    this.clickCostMicros = new Uint32Array(sizes.advertisers);
    for (let a = 0; a < sizes.advertisers; a++) {
      this.impressionCostMicros[a] = Math.round(rng.range(CPM_MICROS[0], CPM_MICROS[1]) / 1000);
      this.clickCostMicros[a] = rng.range(CPC_MICROS[0], CPC_MICROS[1]);
    }
  }

  buyerId(index: number): string {
    return `b-${index + 1}`;
  }

  /** {categoryId: industry} for every category. */
  categoryIndustryTable(): Record<string, string> {
    const table: Record<string, string> = {};
    this.categoryIds.forEach((id, c) => {
      table[id] = industryName(this.categoryIndustry[c] as number);
    });
    return table;
  }

  /** {sellerId: tier} for every seller. */
  sellerTierTable(): Record<string, SellerTier> {
    const table: Record<string, SellerTier> = {};
    this.sellerIds.forEach((id, s) => {
      table[id] = SELLER_TIERS[this.sellerTier[s] as number] as SellerTier;
    });
    return table;
  }
}

function ids(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
}
