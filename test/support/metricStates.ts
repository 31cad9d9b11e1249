import type { ChainableCommander, Redis } from "ioredis";
import { METRICS, metricFingerprint } from "../../common/catalog.ts";
import { keys } from "../../common/keys.ts";

// What a processor registers in a link when it starts on an empty one (common/metricState.ts): every metric
// of the catalog computed from the link's first record, so complete on every day. For tests that write a
// link's values by hand.
export function registerCompleteMetrics<T extends Redis | ChainableCommander>(redis: T): T {
  for (const m of METRICS)
    redis.hset(
      keys.metricStates,
      m.name,
      JSON.stringify({ def: metricFingerprint(m), paused: false, since: null }),
    );
  return redis;
}
