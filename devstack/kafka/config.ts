import { bool, int, str } from "../../common/config.ts";
import { LINK_ID } from "../../common/links.ts";
import { kafkaPartitionsSetting } from "../../common/sharedSettings.ts";

// Settings of one embedded Kafka process (one link). The supervisor sets these per link; a link whose
// KAFKA_BROKERS_<ID> is set uses that real Kafka instead, and then this process is not started at all.
export const kafkaSettings = {
  linkId: str({ env: "LINK_ID", default: "a", pattern: LINK_ID, doc: "link id, used in log labels" }),
  partitions: kafkaPartitionsSetting,
  brokers: int({
    env: "KAFKA_MOCK_BROKERS",
    default: 1,
    min: 1,
    max: 9,
    doc: "brokers in the mock cluster (ids 1..n); partition leaders are spread over them",
  }),
  adminPort: int({
    env: "KAFKA_ADMIN_PORT",
    default: 0,
    min: 0,
    max: 65535,
    doc: "port of the fault-injection HTTP endpoint on 127.0.0.1; 0 picks a free port",
  }),
  debug: bool({
    env: "KAFKA_MOCK_DEBUG",
    default: false,
    doc: "librdkafka's mock debug log on stderr: consumer-group states, fetches, log appends (very verbose)",
  }),
  exitOnStdinEnd: bool({
    env: "KAFKA_EXIT_ON_STDIN_END",
    default: false,
    doc: "stop when stdin closes: set by the launcher so that the process dies with its parent",
  }),
  librdkafkaPath: str({
    env: "LIBRDKAFKA_PATH",
    default: "librdkafka.so.1",
    doc: "shared library to load: a file path, or a bare name searched on the dynamic loader's path",
  }),
};
