import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Population } from "./population.ts";

// The two dimension tables the processor joins against, written as files beside the events: the small
// category -> industry table (loaded whole) and the large seller -> tier table (loaded into each link's Redis
// by processor/sellerTierLoader.ts). They come from the same seeded population as the events, so every
// category and seller in the events has an entry.

export const CATEGORY_INDUSTRY_FILE = "category_industry.json";
export const SELLER_TIER_FILE = "seller_tier.json";

export interface DimensionFiles {
  categoryIndustry: string;
  sellerTier: string;
}

export async function writeDimensions(dir: string, population: Population): Promise<DimensionFiles> {
  await mkdir(dir, { recursive: true });
  const files = {
    categoryIndustry: join(dir, CATEGORY_INDUSTRY_FILE),
    sellerTier: join(dir, SELLER_TIER_FILE),
  };
  await writeAtomically(files.categoryIndustry, JSON.stringify(population.categoryIndustryTable()));
  await writeAtomically(files.sellerTier, JSON.stringify(population.sellerTierTable()));
  return files;
}

// A process that reads the file while we write it sees the old table or the new one, never half of one.
async function writeAtomically(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, file);
}
