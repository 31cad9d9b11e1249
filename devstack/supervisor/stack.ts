import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ConfigOf } from "../../common/config.ts";
import { linkEnvName } from "../../common/links.ts";
import type { Logger } from "../../common/logger.ts";
import { loadSellerTiers } from "../../processor/sellerTierLoader.ts";
import { generatorSettings } from "../generator/config.ts";
import { type DimensionFiles, writeDimensions } from "../generator/dimensions.ts";
import { Population } from "../generator/population.ts";
import type { supervisorSettings } from "./config.ts";
import { freePort } from "./freePort.ts";
import { EmbeddedKafkaLink, EmbeddedRedisLink } from "./linkServices.ts";
import { nodeChild } from "./nodeChild.ts";
import { type Launch, SupervisedProcess } from "./service.ts";
import type { StackFile } from "./stackFile.ts";

// The whole dev stack, built in dependency order and stopped in reverse:
//   1. per link, its Kafka and its Redis (all links at once), unless KAFKA_BROKERS_<ID> / REDIS_URL_<ID> name
//      real ones;
//   2. the Consul dev server;
//   3. the dimension tables: written to <dir>/dims, seller tiers loaded into every link's Redis;
//   4. the processors, PROCESSORS_PER_LINK per link;
//   5. the comparator and the gateway, if their entry files exist;
//   6. the generator.
// Every child is a SupervisedProcess: restarted with backoff when it crashes, with its environment computed
// anew, so a restart sees the current addresses.

export type SupervisorConfig = ConfigOf<typeof supervisorSettings>;

export interface StackOptions {
  config: SupervisorConfig;
  /** The repository root: entries are found and children run from here. */
  root: string;
  /** Absolute DEVSTACK_DIR. */
  dir: string;
  log: Logger;
  /** Called whenever an address or PID changed after the stack was up (the caller rewrites stack.json). */
  onChange?: () => void;
}

type Env = NodeJS.ProcessEnv;

interface Link {
  id: string;
  kafka: EmbeddedKafkaLink | { bootstrap: string; adminUrl: null };
  redis: EmbeddedRedisLink | { url: string };
  kafkaService?: SupervisedProcess;
  redisService?: SupervisedProcess;
  processors: { service: SupervisedProcess; port: number }[];
}

export const ENTRIES = {
  consul: "devstack/consul/main.ts",
  processor: "processor/main.ts",
  comparator: "comparator/main.ts",
  gateway: "gateway/main.ts",
  generator: "devstack/generator/main.ts",
} as const;

export class Stack {
  readonly links: Link[];
  consulUrl = "";
  gatewayUrl: string | null = null;
  comparatorUrl: string | null = null;
  readonly startedAt = new Date();
  private consul?: SupervisedProcess;
  private comparator?: SupervisedProcess;
  private gateway?: SupervisedProcess;
  private generator?: SupervisedProcess;
  private up = false;
  private stopping = false;
  private readonly logs = new Map<string, string>();

  /** `env` is the supervisor's own: per-link addresses are read from it, and every child inherits it. */
  constructor(
    private readonly opts: StackOptions,
    private readonly env: Env = process.env,
  ) {
    const { config, dir } = opts;
    this.links = config.links.map((id) => {
      const brokers = env[linkEnvName("KAFKA_BROKERS", id)];
      const redisUrl = env[linkEnvName("REDIS_URL", id)];
      const kafka = brokers
        ? { bootstrap: brokers, adminUrl: null }
        : new EmbeddedKafkaLink({
            linkId: id,
            partitions: config.kafkaPartitions,
            logFile: this.logFile(`kafka-${id}`),
            readyTimeoutMs: config.readyTimeoutMs,
          });
      const redis = redisUrl
        ? { url: redisUrl }
        : new EmbeddedRedisLink({ linkId: id, dataDir: join(dir, "redis", id), readyTimeoutMs: 10_000 });
      return { id, kafka, redis, processors: [] };
    });
  }

  /** Every supervised child, in start order. */
  get services(): SupervisedProcess[] {
    return [
      ...this.links.flatMap((l) => [l.kafkaService, l.redisService]),
      this.consul,
      ...this.links.flatMap((l) => l.processors.map((p) => p.service)),
      this.comparator,
      this.gateway,
      this.generator,
    ].filter((s): s is SupervisedProcess => s !== undefined);
  }

  /** Builds the stack; on failure the caller stops what was started (stop() copes with a half-built stack). */
  async start(): Promise<void> {
    const { config, dir } = this.opts;
    await mkdir(join(dir, "logs"), { recursive: true });

    await Promise.all(this.links.map((link) => this.startLink(link)));

    const consulPort = config.consulPort || (await freePort());
    this.consulUrl = `http://127.0.0.1:${consulPort}`;
    this.consul = this.service("consul", {
      entry: ENTRIES.consul,
      readyUrl: `${this.consulUrl}/v1/status/leader`,
      env: () => ({
        CONSUL_DEV_PORT: String(consulPort),
        CONSUL_DEV_DATA: join(dir, "consul", "state.json"),
      }),
    });
    await this.consul.start();

    const dims = await this.loadDimensions();

    for (const link of this.links) {
      for (let i = 1; i <= config.processorsPerLink; i++) {
        const port = await freePort();
        const service = this.service(`processor-${link.id}-${i}`, {
          entry: ENTRIES.processor,
          readyUrl: `http://127.0.0.1:${port}/healthz`,
          env: () => ({
            LINK_ID: link.id,
            KAFKA_BROKERS: link.kafka.bootstrap,
            REDIS_URL: link.redis.url,
            PROCESSOR_PORT: String(port),
            DIM_CATEGORY_FILE: dims.categoryIndustry,
          }),
        });
        link.processors.push({ service, port });
      }
    }
    await Promise.all(this.links.flatMap((l) => l.processors.map((p) => p.service.start())));

    // The comparator first: it writes the routing document that the gateway reads at start.
    const comparator = await this.startHttpService("comparator", config.comparatorPort);
    this.comparator = comparator?.service;
    this.comparatorUrl = comparator?.url ?? null;
    const gateway = await this.startHttpService("gateway", config.gatewayPort);
    this.gateway = gateway?.service;
    this.gatewayUrl = gateway?.url ?? null;

    if (config.startGenerator) {
      this.generator = this.service("generator", {
        entry: ENTRIES.generator,
        env: () => ({
          ...this.linkAddresses(),
          KAFKA_PARTITIONS: String(config.kafkaPartitions),
          GENERATOR_RATE: String(config.generatorRate),
          GENERATOR_DIMS_DIR: join(dir, "dims"),
        }),
      });
      await this.generator.start();
    }
    this.up = true;
  }

  /** Stops everything in reverse order of start: nothing is left running when it resolves. */
  async stop(): Promise<void> {
    this.up = false;
    this.stopping = true;
    const stopAll = (services: (SupervisedProcess | undefined)[]) =>
      Promise.all(services.map((s) => s?.stop()));
    await stopAll([this.generator]);
    await stopAll([this.gateway, this.comparator]);
    await stopAll(this.links.flatMap((l) => l.processors.map((p) => p.service)));
    await stopAll([this.consul]);
    await stopAll(this.links.flatMap((l) => [l.kafkaService, l.redisService]));
    await Promise.all(this.links.map((l) => (l.kafka instanceof EmbeddedKafkaLink ? l.kafka.close() : null)));
  }

  /** What stack.json says about the stack now. */
  describe(): StackFile {
    const { config } = this.opts;
    return {
      links: this.links.map((l) => ({
        id: l.id,
        kafkaBootstrap: l.kafka.bootstrap,
        redisUrl: l.redis.url,
        kafkaAdminUrl: l.kafka.adminUrl,
        processors: l.processors.map((p) => ({
          pid: p.service.pid ?? null,
          opsUrl: `http://127.0.0.1:${p.port}`,
        })),
      })),
      consulUrl: this.consulUrl,
      gatewayUrl: this.gatewayUrl,
      comparatorUrl: this.comparatorUrl,
      apiKey: config.apiKey,
      adminToken: config.adminToken,
      startedAt: this.startedAt.toISOString(),
      pid: process.pid,
      services: this.services.map((s) => ({
        name: s.name,
        pid: s.pid ?? null,
        restarts: s.restarts,
        log: this.logs.get(s.name) ?? "",
      })),
    };
  }

  private async startLink(link: Link): Promise<void> {
    const { kafka, redis } = link;
    // The embedded Kafka starts empty every time, so offsets and values a link's Redis kept from an earlier
    // run would not match it: that Redis starts empty too.
    if (kafka instanceof EmbeddedKafkaLink && redis instanceof EmbeddedRedisLink)
      await rm(join(this.opts.dir, "redis", link.id), { recursive: true, force: true });
    const started: Promise<void>[] = [];
    if (kafka instanceof EmbeddedKafkaLink) {
      let bootstrap = "";
      link.kafkaService = this.supervise(`kafka-${link.id}`, kafka.launch, kafka.logFile, () => {
        if (bootstrap !== "" && bootstrap !== kafka.bootstrap) this.kafkaMoved(link, bootstrap);
        bootstrap = kafka.bootstrap;
      });
      started.push(link.kafkaService.start());
    }
    if (redis instanceof EmbeddedRedisLink) {
      link.redisService = this.supervise(`redis-${link.id}`, redis.launch, redis.logFile);
      started.push(link.redisService.start());
    }
    await Promise.all(started);
  }

  // The mock Kafka keeps nothing across a restart and cannot listen on its old port. The link's processors
  // and the comparator are restarted with its new address. The generator is not: a restarted generator
  // would begin its event sequence again for every link, so the link gets no more input until the next
  // `npm start` (the comparator sees it fall behind and routes around it). Nor is the gateway, which reads
  // Redis only and must not drop its callers.
  private kafkaMoved(link: Link, from: string): void {
    this.opts.log.error(
      { link: link.id, from, to: link.kafka.bootstrap },
      `KAFKA OF LINK ${link.id} CAME BACK EMPTY on a new address: link ${link.id} gets no more events until the next \`npm start\``,
    );
    const reason = `kafka of link ${link.id} moved to ${link.kafka.bootstrap}`;
    for (const service of [...link.processors.map((p) => p.service), this.comparator])
      void service?.restart(reason);
  }

  // Written before any processor starts, from the same seed as the generator's events (GENERATOR_SEED), so
  // that no event finds its seller or category missing and no "unknown" tier is cached. The generator
  // writes the same files again when it starts.
  private async loadDimensions(): Promise<DimensionFiles> {
    const seed = this.env.GENERATOR_SEED || (generatorSettings.seed.default as string);
    const files = await writeDimensions(join(this.opts.dir, "dims"), new Population(seed));
    const loaded = await Promise.all(this.links.map((l) => loadSellerTiers(l.redis.url, files.sellerTier)));
    this.opts.log.info({ ...files, sellerTiers: loaded[0] }, "dimension tables written and loaded");
    return files;
  }

  private async startHttpService(
    name: "comparator" | "gateway",
    configuredPort: number,
  ): Promise<{ service: SupervisedProcess; url: string } | undefined> {
    if (!existsSync(join(this.opts.root, ENTRIES[name]))) {
      this.opts.log.warn({ entry: ENTRIES[name] }, `${name} not started: its entry does not exist yet`);
      return undefined;
    }
    const port = configuredPort || (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const service = this.service(name, {
      entry: ENTRIES[name],
      readyUrl: `${url}/healthz`,
      env: () => this.httpServiceEnv(name, port),
    });
    await service.start();
    return { service, url };
  }

  // What the comparator and the gateway are told: every link's addresses, Consul, their port, the admin
  // token, and where to keep their local files (inside DEVSTACK_DIR); the gateway also gets the dev API key,
  // for an application called "screen".
  private httpServiceEnv(name: "comparator" | "gateway", port: number): Env {
    const { config, dir } = this.opts;
    const common = {
      ...this.linkAddresses(),
      CONSUL_HTTP_ADDR: new URL(this.consulUrl).host,
      ADMIN_TOKEN: config.adminToken,
    };
    return name === "comparator"
      ? { ...common, COMPARATOR_PORT: String(port), AUDIT_FILE: join(dir, "comparator", "audit.jsonl") }
      : {
          ...common,
          GATEWAY_PORT: String(port),
          API_KEYS: `screen=${config.apiKey}`,
          ROUTING_CACHE_FILE: join(dir, "gateway", "routing.json"),
        };
  }

  /** LINKS plus KAFKA_BROKERS_<ID> and REDIS_URL_<ID> of every link, as they are now. */
  private linkAddresses(): Env {
    const env: Env = { LINKS: this.links.map((l) => l.id).join(",") };
    for (const l of this.links) {
      env[linkEnvName("KAFKA_BROKERS", l.id)] = l.kafka.bootstrap;
      env[linkEnvName("REDIS_URL", l.id)] = l.redis.url;
    }
    return env;
  }

  private logFile(name: string): string {
    return join(this.opts.dir, "logs", `${name}.log`);
  }

  private service(
    name: string,
    spec: { entry: string; env: () => Env; readyUrl?: string },
  ): SupervisedProcess {
    const { config, root } = this.opts;
    const logFile = this.logFile(name);
    return this.supervise(
      name,
      nodeChild({
        name,
        entry: join(root, spec.entry),
        cwd: root,
        env: () => ({ ...this.env, ...spec.env() }),
        logFile,
        readyUrl: spec.readyUrl,
        readyTimeoutMs: config.readyTimeoutMs,
        stopTimeoutMs: config.stopTimeoutMs,
      }),
      logFile,
    );
  }

  private supervise(name: string, launch: Launch, logFile: string, onStart?: () => void): SupervisedProcess {
    // A start still building when a stop began must not add services that the stop has already passed.
    if (this.stopping) throw new Error(`the stack is stopping; ${name} not started`);
    const { config, log } = this.opts;
    this.logs.set(name, logFile);
    return new SupervisedProcess({
      name,
      launch,
      log,
      // A run as long as the longest delay counts as healthy.
      backoff: {
        initialMs: config.backoffInitialMs,
        maxMs: config.backoffMaxMs,
        resetAfterMs: config.backoffMaxMs,
      },
      onStart: () => {
        onStart?.();
        if (this.up) this.opts.onChange?.();
      },
    });
  }
}
