import { ConfigError } from "./config.ts";

// The links a service works with. `LINKS` lists their ids in priority order; each link's addresses come from
// `KAFKA_BROKERS_<ID>` and `REDIS_URL_<ID>` (ID upper-cased), so a deployment can point any one link at a real
// cluster without touching the others. The dev stack sets all of them for the processes it starts.

export const LINK_ID = /^[a-z][a-z0-9]{0,15}$/;

export interface LinkAddress {
  id: string;
  kafkaBrokers: string[];
  redisUrl: string;
}

export function linkEnvName(kind: "KAFKA_BROKERS" | "REDIS_URL", linkId: string): string {
  return `${kind}_${linkId.toUpperCase()}`;
}

/** Reads the addresses of every link in `ids`; `need` says which addresses this service uses. */
export function loadLinkAddresses(
  ids: readonly string[],
  need: { kafka: boolean; redis: boolean },
  env: NodeJS.ProcessEnv = process.env,
): LinkAddress[] {
  const problems: string[] = [];
  const links = ids.map((id) => {
    const brokersVar = linkEnvName("KAFKA_BROKERS", id);
    const redisVar = linkEnvName("REDIS_URL", id);
    const brokers = (env[brokersVar] ?? "")
      .split(",")
      .map((b) => b.trim())
      .filter(Boolean);
    const redisUrl = env[redisVar] ?? "";
    if (need.kafka) {
      if (brokers.length === 0)
        problems.push(`${brokersVar} is required: the Kafka bootstrap servers of link ${id}`);
      for (const b of brokers)
        if (!/^[^:\s]+:\d+$/.test(b)) problems.push(`${brokersVar}: ${JSON.stringify(b)} is not host:port`);
    }
    if (need.redis) {
      if (!redisUrl) problems.push(`${redisVar} is required: the Redis URL of link ${id}`);
      else if (!/^rediss?:\/\//.test(redisUrl))
        problems.push(`${redisVar}=${JSON.stringify(redisUrl)}: must be a redis:// URL`);
    }
    return { id, kafkaBrokers: brokers, redisUrl };
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return links;
}
