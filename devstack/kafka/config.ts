import { int, str } from "../../common/config.ts";

// Settings of one embedded Kafka process (one link). The supervisor sets these per link; a real Kafka is
// chosen instead through KAFKA_BROKERS, which the supervisor reads and which this process never sees.
export const kafkaSettings = {
  linkId: str({ env: "LINK_ID", default: "a", pattern: /^[a-z0-9-]+$/, doc: "link id, used in log labels" }),
  partitions: int({
    env: "KAFKA_PARTITIONS",
    default: 8,
    min: 1,
    max: 1000,
    doc: "partitions of every catalog topic, created at start",
  }),
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
  librdkafkaPath: str({
    env: "LIBRDKAFKA_PATH",
    default: "librdkafka.so.1",
    doc: "shared library to load: a file path, or a bare name searched on the dynamic loader's path",
  }),
};
