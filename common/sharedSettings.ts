import { BusinessClock } from "./businessTime.ts";
import { int, list, type Setting, str } from "./config.ts";
import { LINK_ID } from "./links.ts";

// Settings that more than one process reads, declared once so that every process parses and documents them
// alike; each process's `config.ts` composes the ones it reads. The configuration reference lists them once.

const linkIds = list({
  env: "LINKS",
  default: ["a", "b", "c"],
  item: LINK_ID,
  doc: "Ids of the links in priority order: automatic failover picks the first healthy one, and the gateway serves from the first while Consul has no routing yet. Link <ID>'s addresses come from KAFKA_BROKERS_<ID> and REDIS_URL_<ID>.",
});

export const linksSetting: Setting<string[]> = {
  ...linkIds,
  parse: (raw) => {
    const ids = linkIds.parse(raw);
    if (ids.length === 0) throw new Error("must name at least one link");
    if (new Set(ids).size !== ids.length) throw new Error("lists a link twice");
    return ids;
  },
};

export const timeZoneSetting: Setting<string> = {
  ...str({
    env: "TIME_ZONE",
    default: "Asia/Shanghai",
    doc: "Zone of business days and minute buckets; every process of a deployment must use the same.",
  }),
  parse: (raw) => {
    try {
      BusinessClock.validate(raw);
    } catch {
      throw new Error("not a time zone this Node knows");
    }
    return raw;
  },
};

export const kafkaPartitionsSetting = int({
  env: "KAFKA_PARTITIONS",
  default: 8,
  min: 1,
  max: 1000,
  doc: "Partitions of every catalog topic: an embedded Kafka creates its topics with them, and the generator spreads records over them, so it must equal the topics' partition count in every link's Kafka.",
});
