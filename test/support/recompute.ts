import { Redis } from "ioredis";
import { BusinessClock } from "../../common/businessTime.ts";
import { createLogger } from "../../common/logger.ts";
import type { TestLink } from "../../harness/links.ts";
import { offlineDimensionTables } from "../../processor/dimensions.ts";
import { diffLinks, formatDifferences } from "../../processor/reconcile/diff.ts";
import { expectedPartitionsOf, recompute } from "../../processor/reconcile/recompute.ts";
import { kafkaTopics, truthFile } from "../../processor/reconcile/sources.ts";

// The offline recompute of a test link, as `npm run reconcile` does it: from its Kafka (or a truth file) with
// the processor's code, into another database of its Redis server, with the dimension tables its processors use.

export const TEST_CLOCK = new BusinessClock("Asia/Shanghai");
const log = createLogger("test");

export interface RecomputeFrom {
  /** Read the generator's truth file instead of the link's Kafka. */
  truth?: string;
  /** The scratch database (flushed first); 15 unless given. */
  db?: number;
}

/** Recomputes `link` into a scratch database of its Redis server; the caller disconnects what it returns. */
export async function recomputeLink(
  link: TestLink,
  categoryFile: string,
  from: RecomputeFrom = {},
): Promise<Redis> {
  const scratch = new Redis(`${link.redis.url}/${from.db ?? 15}`);
  const dims = offlineDimensionTables(link.client, categoryFile, log);
  try {
    await recompute(from.truth ? truthFile(from.truth) : kafkaTopics([link.kafka.bootstrap]), {
      scratch,
      tables: dims.tables,
      clock: TEST_CLOCK,
      latenessMs: 5_000,
      expectedPartitions: await expectedPartitionsOf(link.client),
    });
    return scratch;
  } finally {
    dims.close();
  }
}

/** The link's differences from its offline recompute, one per line; "" when it equals it. */
export async function differencesFromRecompute(
  link: TestLink,
  categoryFile: string,
  from: RecomputeFrom = {},
): Promise<string> {
  const scratch = await recomputeLink(link, categoryFile, from);
  try {
    return formatDifferences(await diffLinks(link.client, scratch, TEST_CLOCK));
  } finally {
    scratch.disconnect();
  }
}
