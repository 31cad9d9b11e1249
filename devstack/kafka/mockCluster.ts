import type { Librdkafka, Pointer } from "./librdkafka.ts";

// One librdkafka mock cluster: brokers listening on 127.0.0.1, all served by one librdkafka thread. Limits
// that callers must design around (librdkafka src/rdkafka_mock*.c; each one seen with 2.0.2 and kafkajs):
// - Retention: each partition keeps at most 5 MiB (mpart->max_size = 1024*1024*5) or 100000 record batches
//   (max_cnt). Appending a batch first deletes the oldest batches past either bound, so the log start offset
//   moves and a consumer that fell behind gets OFFSET_OUT_OF_RANGE. The size counted is the batch as sent,
//   so compressed batches stretch the 5 MiB.
// - A Fetch returns at most one record batch per partition, so consumers move one producer batch at a time:
//   producers should send large batches.
// - A Fetch that finds no data is answered only after its full MaxWait, even if data arrives meanwhile.
// - No CreateTopics, ListGroups or DescribeGroups; ListOffsets by timestamp answers -1 (only earliest and
//   latest work). Any Metadata request naming an unknown topic creates it with 4 partitions, whatever the
//   client's allowAutoTopicCreation says, which is why we create the catalog's topics here.
// - Broker down/up does not move partition leaders; partitions led by a down broker stay unavailable.
// - Consumer groups: the first join waits 3 s, a join into a stable group waits session.timeout - 1 s. The
//   rebalance completes as soon as the leader's SyncGroup arrives, and a follower whose SyncGroup comes
//   after it gets INVALID_REQUEST (a kafkajs consumer crashes without restarting): the leader must hold its
//   SyncGroup back a little (see test/kafka/fixtures/groupMember.ts).

export const ALL_BROKERS = -1;

export class MockClusterError extends Error {
  constructor(
    readonly operation: string,
    readonly code: number,
    readonly codeName: string,
  ) {
    super(`${operation} failed: ${codeName} (${code})`);
    this.name = "MockClusterError";
  }
}

export interface BrokerState {
  id: number;
  up: boolean;
  rttMs: number;
}

export interface PushedErrors {
  apiKey: number;
  errors: { code: number; name: string }[];
  at: string;
}

export interface MockClusterOptions {
  brokers: number;
  partitions: number;
  topics: readonly string[];
  /** librdkafka's mock debug log (group state machine, fetches, log appends) on stderr. */
  debug?: boolean;
}

const PUSH_HISTORY = 20;

export class MockCluster {
  readonly bootstrap: string;
  readonly partitions: number;
  readonly topics: readonly string[];
  private readonly rk: Pointer;
  private readonly mcluster: Pointer;
  // The mock has no getters for these, so we remember what we told it.
  private readonly brokerStates: BrokerState[];
  private readonly pushed: PushedErrors[] = [];
  private destroyed = false;

  constructor(
    private readonly lib: Librdkafka,
    opts: MockClusterOptions,
  ) {
    const { rk, mcluster } = lib.createMockCluster(opts.brokers, opts.debug ?? false);
    this.rk = rk;
    this.mcluster = mcluster;
    this.bootstrap = lib.bootstraps(mcluster);
    this.partitions = opts.partitions;
    this.topics = opts.topics;
    this.brokerStates = Array.from({ length: opts.brokers }, (_, i) => ({ id: i + 1, up: true, rttMs: 0 }));
    try {
      const replicationFactor = Math.min(opts.brokers, 3);
      for (const topic of opts.topics) {
        this.check(
          `create topic ${topic}`,
          lib.topicCreate(mcluster, topic, opts.partitions, replicationFactor),
        );
      }
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  get brokers(): readonly BrokerState[] {
    return this.brokerStates;
  }

  hasBroker(id: number): boolean {
    return id === ALL_BROKERS || this.brokerStates.some((b) => b.id === id);
  }

  /** Closes the broker's connections and refuses new ones (ALL_BROKERS: every broker). */
  setBrokerDown(id: number): void {
    this.check(`broker ${id} down`, this.lib.brokerSetDown(this.mcluster, id));
    for (const b of this.targets(id)) b.up = false;
  }

  setBrokerUp(id: number): void {
    this.check(`broker ${id} up`, this.lib.brokerSetUp(this.mcluster, id));
    for (const b of this.targets(id)) b.up = true;
  }

  /** Delays every response of the broker by `ms`. */
  setBrokerRtt(id: number, ms: number): void {
    this.check(`broker ${id} rtt`, this.lib.brokerSetRtt(this.mcluster, id, ms));
    for (const b of this.targets(id)) b.rttMs = ms;
  }

  /** The next `errors.length` requests of `apiKey`, on any broker, fail with these codes in order. */
  pushRequestErrors(apiKey: number, errors: readonly number[]): PushedErrors {
    this.lib.pushRequestErrors(this.mcluster, apiKey, errors);
    const entry = {
      apiKey,
      errors: errors.map((code) => ({ code, name: this.lib.errName(code) })),
      at: new Date().toISOString(),
    };
    this.pushed.push(entry);
    if (this.pushed.length > PUSH_HISTORY) this.pushed.shift();
    return entry;
  }

  clearRequestErrors(apiKey: number): void {
    this.lib.clearRequestErrors(this.mcluster, apiKey);
  }

  setPartitionLeader(topic: string, partition: number, brokerId: number): void {
    this.check(
      `set leader of ${topic}[${partition}]`,
      this.lib.partitionSetLeader(this.mcluster, topic, partition, brokerId),
    );
  }

  errName(code: number): string {
    return this.lib.errName(code);
  }

  status() {
    return {
      bootstrap: this.bootstrap,
      librdkafka: this.lib.version,
      partitions: this.partitions,
      topics: this.topics,
      brokers: this.brokerStates,
      pushedRequestErrors: this.pushed,
    };
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.lib.destroyMockCluster(this.rk, this.mcluster);
  }

  private targets(id: number): BrokerState[] {
    return this.brokerStates.filter((b) => id === ALL_BROKERS || b.id === id);
  }

  private check(operation: string, code: number): void {
    if (code !== 0) throw new MockClusterError(operation, code, this.lib.errName(code));
  }
}
