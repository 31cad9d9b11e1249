import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Consul from "consul";
import { Redis } from "ioredis";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys } from "../../common/keys.ts";
import { createLogger } from "../../common/logger.ts";
import { CONSUL_KEYS } from "../../common/routing.ts";
import { TOPICS } from "../../common/topics.ts";
import { type ConsulDevServer, startConsulDevServer } from "../../devstack/consul/server.ts";
import { feed, prepareDimensions } from "../../harness/feed.ts";
import {
  caughtUp,
  dumpValues,
  overflowPartition,
  type ProcessorChild,
  settled,
  spawnProcessor,
  startTestLink,
  stopProcessor,
  type TestLink,
  waitFor,
} from "../../harness/links.ts";
import { offlineDimensionTables } from "../../processor/dimensions.ts";
import { diffLinks, formatDifferences } from "../../processor/reconcile/diff.ts";
import { RepairFailed, type RepairStage, repairLink } from "../../processor/reconcile/repair.ts";
import { kafkaTopics } from "../../processor/reconcile/sources.ts";
import { comparatorAt, http, repairEnded } from "../comparator/harness.ts";
import { differencesFromRecompute } from "../support/recompute.ts";

// Repair on real links: corrupted in every way the scrub finds, then repaired from the link's own Kafka by the
// `npm run repair` command, while its processor runs; refused on the active link and when Kafka lost data; the
// offset fence wins over a processor that ignores the pause.

const PARTITIONS = 2;
const clock = new BusinessClock("Asia/Shanghai");
const log = createLogger("test");
const ROOT = new URL("../../", import.meta.url).pathname;

let consulServer: ConsulDevServer;
let consul: Consul;
let dir: string;
let categoryFile: string;
let x: TestLink;
let y: TestLink;
const processors = new Map<string, ProcessorChild>();

function runProcessor(link: TestLink): ProcessorChild {
  const p = spawnProcessor(link, { DIM_CATEGORY_FILE: categoryFile });
  processors.set(link.id, p);
  return p;
}

/** `npm run repair` as an operator runs it; resolves with its exit code and output. */
function repairCommand(link: TestLink, ...extra: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(ROOT, "processor/reconcile/repairMain.ts"),
      "--link",
      link.id,
      "--reason",
      "test corruption",
      "--operator",
      "tester",
      "--categories",
      categoryFile,
      ...extra,
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        [`REDIS_URL_${link.id.toUpperCase()}`]: link.redis.url,
        [`KAFKA_BROKERS_${link.id.toUpperCase()}`]: link.kafka.bootstrap,
        CONSUL_HTTP_ADDR: `127.0.0.1:${consulServer.port}`,
        AUDIT_FILE: join(dir, "audit.jsonl"),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout.on("data", (d) => {
    output += d;
  });
  child.stderr.on("data", (d) => {
    output += d;
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, output })));
}

/** Repairs link x in this process (the command's code), calling `onStage` as each stage starts. */
async function repairX(why: string, onStage: (stage: RepairStage) => Promise<void>): Promise<void> {
  const scratch = new Redis(`${x.redis.url}/15`);
  const dims = offlineDimensionTables(x.client, categoryFile, log);
  try {
    await repairLink({
      mode: "repair",
      link: x.client,
      scratch,
      input: (upTo) => kafkaTopics([x.kafka.bootstrap], upTo),
      tables: dims.tables,
      holder: { by: "test", reason: why },
      onStage,
    });
  } finally {
    dims.close();
    scratch.disconnect();
  }
}

async function auditRecords(): Promise<{ kind: string; link?: string; evidence: Record<string, unknown> }[]> {
  const items = (await consul.kv.get({ key: CONSUL_KEYS.audit, recurse: true })) as
    | { Value: string }[]
    | null;
  return (items ?? []).map((i) => JSON.parse(i.Value));
}

/** A closed minute that holds values: its day and HHMM. */
async function closedMinute(link: TestLink): Promise<{ date: string; minute: string }> {
  const closed = Number(await link.client.get(keys.closedThrough));
  const b = clock.bucket(closed - 120_000);
  assert.ok(await link.client.hget(keys.minute(b.date, b.minute), "gmv|all|all"), "the minute has a gmv");
  return { date: b.date, minute: b.minute };
}

/** Corrupts a link in each way a silent fault could: a minute, a day value, a digest, a HyperLogLog, keys. */
async function corrupt(link: TestLink): Promise<void> {
  const { date, minute } = await closedMinute(link);
  await link.client.hincrby(keys.minute(date, minute), "gmv|all|all", 777);
  await link.client.zincrby(keys.day(date, "gmv", "all"), 777, "all");
  await link.client.hset(keys.digests(date), `${minute}|paid_orders`, "not-a-digest");
  await link.client.pfadd(keys.dayHll(date, "buyers", "all", "all"), "someone-who-never-paid");
  await link.client.del(keys.day(date, "paid_orders", "seller"));
  await link.client.zadd(keys.day(date, "gmv", "bogus"), 1, "extra");
}

describe("repair", () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "oneservice-repair-"));
    consulServer = await startConsulDevServer({ port: 0, dataFile: join(dir, "consul.json") });
    consul = new Consul({ host: "127.0.0.1", port: consulServer.port });
    [x, y] = await Promise.all([startTestLink("x", PARTITIONS), startTestLink("y", PARTITIONS)]);
    const dims = await prepareDimensions([x, y]);
    categoryFile = dims.categoryIndustry;
    await consul.kv.set(
      CONSUL_KEYS.routing,
      JSON.stringify({
        version: 1,
        active: "y",
        standby: ["x"],
        mode: "auto",
        reason: "test",
        changedAt: new Date().toISOString(),
        changedBy: "test",
      }),
    );
    runProcessor(x);
    runProcessor(y);
    await feed([x, y], { count: 20_000, partitions: PARTITIONS });
    await Promise.all([settled(x), settled(y)]);
  });

  after(async () => {
    for (const p of processors.values()) await stopProcessor(p, "SIGKILL");
    consul?.destroy();
    await consulServer?.close();
    await x?.stop();
    await y?.stop();
  });

  it("rewrites every corrupted value of a standby from its own Kafka while its processor runs, and audits it", async () => {
    assert.deepEqual(await dumpValues(x.client), await dumpValues(y.client), "the twins start equal");
    await corrupt(x);
    assert.notDeepEqual(await dumpValues(x.client), await dumpValues(y.client));
    const { code, output } = await repairCommand(x);
    assert.equal(code, 0, output);
    assert.match(output, /repair: x equals the recompute of [\d,]+ records; \d+ values rewritten/);
    assert.deepEqual(await dumpValues(x.client), await dumpValues(y.client), "x equals its twin again");
    assert.equal(
      await x.client.pfcount(keys.dayHll((await closedMinute(x)).date, "buyers", "all", "all")),
      await y.client.pfcount(keys.dayHll((await closedMinute(y)).date, "buyers", "all", "all")),
    );
    assert.equal(await differencesFromRecompute(x, categoryFile), "", "x equals the offline recompute");
    assert.equal(await x.client.exists(keys.pause), 0, "the processors were resumed");
    assert.equal(processors.get("x")?.child.exitCode, null, "its processor ran on through the repair");
    const [record] = (await auditRecords()).filter((r) => r.kind === "repair" && r.link === "x");
    assert.ok(record, "the repair is in the audit trail");
    assert.ok(Number(record.evidence.changed) >= 6, `changed ${record.evidence.changed}`);
    const largest = record.evidence.largest as { delta: number | null }[];
    assert.ok(
      largest.some((d) => d.delta === 777),
      "the largest differences name the corruption",
    );
  });

  it("runs from the comparator's API with its progress, as the console's Repair action does", async () => {
    await corrupt(x);
    const comparator = await comparatorAt(
      { consulServer, dir },
      {
        links: ["x", "y"],
        addresses: [x, y].map((l) => ({
          id: l.id,
          kafkaBrokers: [l.kafka.bootstrap],
          redisUrl: l.redis.url,
        })),
        env: { DIM_CATEGORY_FILE: categoryFile },
      },
    );
    try {
      const started = await http(comparator, "POST", "/v1/links/x/repair", {
        reason: "console repair",
        operator: "alice",
      });
      assert.equal(started.status, 202, JSON.stringify(started.json));
      assert.equal(started.json.state, "running");
      const again = await http(comparator, "POST", "/v1/links/x/repair", {
        reason: "twice",
        operator: "alice",
      });
      assert.equal(again.status, 409, "one repair of a link at a time");
      const seen = await repairEnded(comparator, "x");
      assert.equal(seen.state, "succeeded", JSON.stringify(seen));
      assert.ok(Number((seen.summary as { changed: number }).changed) >= 6);
      assert.equal((seen.progress as { total: number }).total > 0, true, "it reported its progress");
      const links = (await http(comparator, "GET", "/v1/links")).json.links as {
        id: string;
        repair: unknown;
      }[];
      assert.deepEqual(links.find((l) => l.id === "x")?.repair, seen);
      assert.deepEqual(await dumpValues(x.client), await dumpValues(y.client));
      const unauthorized = await comparator.app.inject({
        method: "POST",
        url: "/v1/links/x/repair",
        payload: { reason: "no token", operator: "mallory" },
      });
      assert.equal(unauthorized.statusCode, 401);
    } finally {
      await comparator.close();
    }
  });

  it("refuses the active link unless forced, and says why", async () => {
    const { code, output } = await repairCommand(y);
    assert.equal(code, 2);
    assert.match(output, /y is the active link: fail over first, or give --force/);
    assert.ok((await auditRecords()).some((r) => r.kind === "refused" && r.link === "y"));
  });

  it("lets the offset fence win over a processor that ignores the pause: nothing is overwritten", async () => {
    await corrupt(x);
    const before = await dumpValues(x.client);
    try {
      await assert.rejects(
        repairX("fence", async (stage) => {
          // What a member of a release without the pause check does: apply a batch anyway.
          if (stage === "rewriting") await x.client.hset(keys.offsets, "ignored-the-pause:0", 1);
        }),
        (err: Error) => err instanceof RepairFailed && /offsets moved while it was paused/.test(err.message),
      );
      assert.deepEqual(await dumpValues(x.client), before, "nothing was overwritten");
      assert.equal(await x.client.exists(keys.pause), 0, "the pause was released");
    } finally {
      await x.client.hdel(keys.offsets, "ignored-the-pause:0");
    }
  });

  it("completes while the link's processor is killed mid-way, and the restarted processor goes on from it", async () => {
    await repairX("kill", async (stage) => {
      if (stage !== "recomputing") return;
      const p = processors.get("x") as ProcessorChild;
      p.child.kill("SIGKILL");
      await p.exited;
    });
    runProcessor(x);
    await settled(x);
    assert.equal(formatDifferences(await diffLinks(x.client, y.client, clock)), "", "x equals its twin");
    assert.deepEqual(await dumpValues(x.client), await dumpValues(y.client));
  });

  it("refuses when the link's Kafka no longer has the input, naming the partition", async () => {
    // Each megabyte applied before the next, so the processor never misses any.
    await overflowPartition(
      x,
      TOPICS.ads,
      1,
      (n, pad) =>
        JSON.stringify({
          eventId: `big-${n}`,
          kind: "impression",
          advertiserId: "adv-1",
          costMicros: 1,
          eventTime: Date.now() - 3_000_000,
          pad,
        }),
      () => waitFor("x to apply the big records", () => caughtUp(x), 120_000),
    );
    const { code, output } = await repairCommand(x);
    assert.equal(code, 1, output);
    assert.match(output, /no longer has the start of ads\.events:1 \(log starts at \d+/);
    assert.match(output, /--from-truth FILE/);
    assert.equal(await x.client.exists(keys.pause), 0);
  });
});
