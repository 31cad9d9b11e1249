import * as koffi from "koffi";

// FFI bindings to the part of librdkafka that we use: its mock cluster (rdkafka_mock.h), an in-process
// Kafka that speaks the real wire protocol. The mock API is marked experimental and outside librdkafka's
// ABI promise, so the signatures below are those of the version we ship against (Debian librdkafka1 2.0.2).

export const INSTALL_HINT =
  "install it with `apt-get install librdkafka1`, or set LIBRDKAFKA_PATH to the library file";

export class LibrdkafkaLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LibrdkafkaLoadError";
  }
}

/** An opaque C pointer (rd_kafka_t *, rd_kafka_mock_cluster_t *) as koffi hands it over. */
export type Pointer = { readonly __brand: "Pointer" };

export interface Librdkafka {
  readonly path: string;
  readonly version: string;
  /** A client handle without bootstrap servers (so it never connects anywhere) plus a mock cluster on it. */
  createMockCluster(brokerCount: number, debug: boolean): { rk: Pointer; mcluster: Pointer };
  destroyMockCluster(rk: Pointer, mcluster: Pointer): void;
  bootstraps(mcluster: Pointer): string;
  topicCreate(mcluster: Pointer, topic: string, partitions: number, replicationFactor: number): number;
  brokerSetDown(mcluster: Pointer, brokerId: number): number;
  brokerSetUp(mcluster: Pointer, brokerId: number): number;
  brokerSetRtt(mcluster: Pointer, brokerId: number, rttMs: number): number;
  pushRequestErrors(mcluster: Pointer, apiKey: number, errors: readonly number[]): void;
  clearRequestErrors(mcluster: Pointer, apiKey: number): void;
  partitionSetLeader(mcluster: Pointer, topic: string, partition: number, brokerId: number): number;
  /** Symbolic name of an rd_kafka_resp_err_t, e.g. 7 → "REQUEST_TIMED_OUT", -195 → "_TRANSPORT". */
  errName(code: number): string;
}

const ERRSTR_SIZE = 512;
// Quiet the client handle's notices (e.g. "no bootstrap.servers configured"); warnings and errors stay.
const CLIENT_LOG_LEVEL = "4";

export function loadLibrdkafka(path: string): Librdkafka {
  let lib: koffi.LibraryHandle;
  try {
    lib = koffi.load(path);
  } catch (err) {
    throw new LibrdkafkaLoadError(
      `librdkafka not found (${path}: ${(err as Error).message}): ${INSTALL_HINT}`,
    );
  }

  const fn = (declaration: string) => {
    try {
      return lib.func(declaration);
    } catch (err) {
      throw new LibrdkafkaLoadError(
        `librdkafka at ${path} is unusable (${(err as Error).message}): the mock cluster API needs librdkafka ≥ 2.0; ${INSTALL_HINT}`,
      );
    }
  };

  koffi.opaque("rd_kafka_conf_t");
  koffi.opaque("rd_kafka_t");
  koffi.opaque("rd_kafka_mock_cluster_t");

  const versionStr = fn("const char *rd_kafka_version_str(void)");
  const err2name = fn("const char *rd_kafka_err2name(int err)");
  const confNew = fn("rd_kafka_conf_t *rd_kafka_conf_new(void)");
  const confSet = fn(
    "int rd_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, _Out_ uint8_t *errstr, size_t errstr_size)",
  );
  const confDestroy = fn("void rd_kafka_conf_destroy(rd_kafka_conf_t *conf)");
  const kafkaNew = fn(
    "rd_kafka_t *rd_kafka_new(int type, rd_kafka_conf_t *conf, _Out_ uint8_t *errstr, size_t errstr_size)",
  );
  const kafkaDestroy = fn("void rd_kafka_destroy(rd_kafka_t *rk)");
  const clusterNew = fn("rd_kafka_mock_cluster_t *rd_kafka_mock_cluster_new(rd_kafka_t *rk, int broker_cnt)");
  const clusterDestroy = fn("void rd_kafka_mock_cluster_destroy(rd_kafka_mock_cluster_t *mcluster)");
  const clusterBootstraps = fn(
    "const char *rd_kafka_mock_cluster_bootstraps(const rd_kafka_mock_cluster_t *mcluster)",
  );
  const topicCreate = fn(
    "int rd_kafka_mock_topic_create(rd_kafka_mock_cluster_t *mcluster, const char *topic, int partition_cnt, int replication_factor)",
  );
  const setDown = fn(
    "int rd_kafka_mock_broker_set_down(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id)",
  );
  const setUp = fn("int rd_kafka_mock_broker_set_up(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id)");
  const setRtt = fn(
    "int rd_kafka_mock_broker_set_rtt(rd_kafka_mock_cluster_t *mcluster, int32_t broker_id, int rtt_ms)",
  );
  // The array form of the variadic rd_kafka_mock_push_request_errors, so no varargs cross the FFI.
  const pushErrors = fn(
    "void rd_kafka_mock_push_request_errors_array(rd_kafka_mock_cluster_t *mcluster, int16_t ApiKey, size_t cnt, const int *errors)",
  );
  const clearErrors = fn(
    "void rd_kafka_mock_clear_request_errors(rd_kafka_mock_cluster_t *mcluster, int16_t ApiKey)",
  );
  const setLeader = fn(
    "int rd_kafka_mock_partition_set_leader(rd_kafka_mock_cluster_t *mcluster, const char *topic, int32_t partition, int32_t broker_id)",
  );

  const errstr = () => Buffer.alloc(ERRSTR_SIZE);
  const text = (buf: Buffer) => buf.subarray(0, buf.indexOf(0)).toString();
  const RD_KAFKA_PRODUCER = 0;
  const RD_KAFKA_CONF_OK = 0;

  return {
    path,
    version: versionStr() as string,
    createMockCluster(brokerCount, debug) {
      const conf = confNew();
      const settings: [string, string][] = debug
        ? [
            ["log_level", "7"],
            ["debug", "mock"],
          ]
        : [["log_level", CLIENT_LOG_LEVEL]];
      for (const [name, value] of settings) {
        const confErr = errstr();
        if (confSet(conf, name, value, confErr, ERRSTR_SIZE) !== RD_KAFKA_CONF_OK) {
          confDestroy(conf);
          throw new Error(`rd_kafka_conf_set ${name}=${value}: ${text(confErr)}`);
        }
      }
      const newErr = errstr();
      // rd_kafka_new takes ownership of conf only when it succeeds.
      const rk = kafkaNew(RD_KAFKA_PRODUCER, conf, newErr, ERRSTR_SIZE) as Pointer | null;
      if (!rk) {
        confDestroy(conf);
        throw new Error(`rd_kafka_new: ${text(newErr)}`);
      }
      const mcluster = clusterNew(rk, brokerCount) as Pointer | null;
      if (!mcluster) {
        kafkaDestroy(rk);
        throw new Error("rd_kafka_mock_cluster_new failed (could not listen on 127.0.0.1?)");
      }
      return { rk, mcluster };
    },
    destroyMockCluster(rk, mcluster) {
      clusterDestroy(mcluster);
      kafkaDestroy(rk);
    },
    bootstraps: (mcluster) => clusterBootstraps(mcluster) as string,
    topicCreate: (mcluster, topic, partitions, rf) => topicCreate(mcluster, topic, partitions, rf) as number,
    brokerSetDown: (mcluster, id) => setDown(mcluster, id) as number,
    brokerSetUp: (mcluster, id) => setUp(mcluster, id) as number,
    brokerSetRtt: (mcluster, id, ms) => setRtt(mcluster, id, ms) as number,
    pushRequestErrors: (mcluster, apiKey, errors) =>
      pushErrors(mcluster, apiKey, errors.length, Int32Array.from(errors)),
    clearRequestErrors: (mcluster, apiKey) => clearErrors(mcluster, apiKey),
    partitionSetLeader: (mcluster, topic, partition, id) =>
      setLeader(mcluster, topic, partition, id) as number,
    errName: (code) => err2name(code) as string,
  };
}
