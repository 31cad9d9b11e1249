import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { TestLink } from "../../harness/links.ts";

// The catalog as users extend it, on real links (embedded Kafka, redis-server, processors as child processes):
// a metric added to a running link, a changed definition refused, and the README's recipe for a new source
// followed literally with a source and metrics that exist only here (test/catalog/extension.ts).
//
// The extension is loaded when common/catalog.ts is first imported, so it is named before anything imports it;
// the first processor of the first test is started without it.
process.env.CATALOG_EXTENSIONS = "test/catalog/extension.ts";
const { BusinessClock } = await import("../../common/businessTime.ts");
const { keys, digestField } = await import("../../common/keys.ts");
const { createLogger } = await import("../../common/logger.ts");
const { readMetricStates } = await import("../../common/metricState.ts");
const { LinkProbe } = await import("../../comparator/probe.ts");
const { Scrubber } = await import("../../comparator/scrub.ts");
const { Judge } = await import("../../comparator/judge.ts");
const { offlineDimensionTables } = await import("../../processor/dimensions.ts");
const { diffLinks, formatDifferences, incompleteMetrics } = await import("../../processor/reconcile/diff.ts");
const { kafkaTopics } = await import("../../processor/reconcile/sources.ts");
const { repairLink } = await import("../../processor/reconcile/repair.ts");
const { feed, prepareDimensions } = await import("../../harness/feed.ts");
const { startGatewayFor } = await import("../support/gateway.ts");
const { recomputeLink } = await import("../support/recompute.ts");
const { appliedRecords, dayTotal, settled, spawnProcessor, startTestLink, stopProcessor, waitFor } =
  await import("../../harness/links.ts");
const { VISITS_TOPIC } = await import("./extension.ts");

const PARTITIONS = 2;
const TIME_ZONE = "Asia/Shanghai";
const clock = new BusinessClock(TIME_ZONE);
const log = createLogger("test");
const links: TestLink[] = [];
const stops: (() => Promise<unknown>)[] = [];

after(async () => {
  for (const stop of stops.reverse()) await stop();
  for (const l of links) await l.stop();
});

function processor(
  link: TestLink,
  categoryFile: string,
  extensions: string,
  env: Record<string, string> = {},
) {
  const p = spawnProcessor(link, { DIM_CATEGORY_FILE: categoryFile, CATALOG_EXTENSIONS: extensions, ...env });
  stops.push(() => stopProcessor(p, "SIGKILL"));
  return p;
}

/** The same visits, partition by partition, to every link: `count` visits over 10 pages from `start`. */
async function produceVisits(
  targets: readonly TestLink[],
  count: number,
  start: number,
  spacingMs = 50,
): Promise<void> {
  for (const link of targets) {
    const producer = link.kafkaClient.producer();
    await producer.connect();
    const messages = Array.from({ length: count }, (_, i) => ({
      partition: i % PARTITIONS,
      key: `v-${start}-${i}`,
      value: JSON.stringify({
        visitId: `v-${start}-${i}`,
        page: `p-${i % 10}`,
        eventTime: start + i * spacingMs,
      }),
    }));
    await producer.send({ topic: VISITS_TOPIC, messages });
    await producer.disconnect();
  }
}

describe("live catalog", () => {
  it("adds a metric to a running link without emptying it, flags it incomplete, and refuses a changed one", async () => {
    const link = await startTestLink("x", PARTITIONS);
    links.push(link);
    const dims = await prepareDimensions([link]);
    // The first release is slowed down so that it is stopped half way through the input.
    const first = processor(link, dims.categoryIndustry, "", { MAX_RATE_PER_PARTITION: "300" });
    const feedStart = Date.now() - 3_600_000;
    await feed([link], { count: 24_000, partitions: PARTITIONS, startAgoMs: Date.now() - feedStart });
    await waitFor("half the input to be applied", async () => (await appliedRecords(link)) >= 8_000);
    assert.equal(await stopProcessor(first), 0);
    assert.ok((await appliedRecords(link)) < 20_000, "the first release stopped with input left to process");
    const before = await readMetricStates(link.client);
    assert.equal(before.big_orders, undefined, "the first release did not compute big_orders");
    assert.equal(before.gmv?.since, null, "gmv was computed from the link's first record");

    const second = processor(link, dims.categoryIndustry, "test/catalog/extension.ts");
    // A source's minutes close once each of its partitions has had a record (README: adding a source), so the
    // new source gets visits over the whole time the feed spans.
    await produceVisits([link], 100, feedStart, 2_000);
    await waitFor("the new release to register its metrics", async () => {
      const states = await readMetricStates(link.client);
      return states.big_orders !== undefined;
    });
    const added = await readMetricStates(link.client);
    assert.ok(added.big_orders?.since, "big_orders starts from the offsets stored when it was added");
    assert.ok(Object.keys(added.big_orders.since.offsets).length > 0);
    assert.equal(added.gmv?.since, null, "gmv is untouched");
    assert.ok(
      added.visits?.since,
      "a new source's metric is not whole either: its past may be in closed minutes",
    );

    await settled(link);
    assert.equal(second.child.exitCode, null, `the processor kept running:\n${second.output()}`);

    const scratch = await recomputeLink(link, dims.categoryIndustry);
    stops.push(async () => scratch.disconnect());
    const incomplete = await incompleteMetrics(link.client, clock);
    const since = added.big_orders.since.eventTime;
    assert.equal(incomplete.get("big_orders"), clock.dateOf(since));
    assert.equal(incomplete.has("gmv"), false);
    assert.equal(
      formatDifferences(await diffLinks(link.client, scratch, clock, new Set(incomplete.keys()))),
      "",
      "every metric the link held before equals the offline recompute",
    );
    const counted = await dayTotal(link.client, "big_orders");
    const whole = await dayTotal(scratch, "big_orders");
    assert.ok(
      counted > 0 && counted < whole,
      `big_orders counted since it was added: ${counted} of ${whole}`,
    );

    const gateway = await startGatewayFor([link], TIME_ZONE);
    stops.push(() => gateway.close());
    const date = clock.dateOf(since);
    await waitFor("the gateway to read the link's metric states", async () => {
      const r = await gateway.get(`/v1/metrics/big_orders?date=${date}`);
      return r.statusCode === 200 && r.body.complete === false;
    });
    const big = await gateway.get(`/v1/metrics/big_orders?date=${date}`);
    assert.equal(
      big.body.value,
      await link.client.zscore(keys.day(date, "big_orders", "all"), "all").then(Number),
    );
    const gmv = await gateway.get(`/v1/metrics/gmv?date=${date}`);
    assert.equal(gmv.body.complete, true);
    const catalog = (await gateway.get("/v1/catalog")).body.metrics as {
      name: string;
      incompleteThrough: string | null;
    }[];
    assert.equal(catalog.find((m) => m.name === "big_orders")?.incompleteThrough, date);
    assert.equal(catalog.find((m) => m.name === "gmv")?.incompleteThrough, null);

    // Backfill: the same path as a repair, for the metric the link does not hold whole; then it does.
    const backfillTables = offlineDimensionTables(link.client, dims.categoryIndustry, log);
    stops.push(async () => backfillTables.close());
    const summary = await repairLink({
      mode: "backfill",
      link: link.client,
      scratch,
      input: (upTo) => kafkaTopics([link.kafka.bootstrap], upTo),
      tables: backfillTables.tables,
      holder: { by: "test", reason: "backfill big_orders" },
    });
    assert.deepEqual(summary.metrics.sort(), ["big_orders", "visits"]);
    assert.equal((await incompleteMetrics(link.client, clock)).size, 0, "every metric is complete now");
    const again = await recomputeLink(link, dims.categoryIndustry);
    stops.push(async () => again.disconnect());
    assert.equal(
      formatDifferences(await diffLinks(link.client, again, clock)),
      "",
      "all of it equals the recompute",
    );
    await waitFor("the gateway to see big_orders complete", async () => {
      const r = await gateway.get(`/v1/metrics/big_orders?date=${date}`);
      return r.body.complete === true;
    });

    assert.equal(await stopProcessor(second), 0);
    const changed = processor(link, dims.categoryIndustry, "test/catalog/changedExtension.ts");
    assert.equal(await changed.exited, 3, "a changed definition under the same name is refused");
    assert.match(
      changed.output(),
      /metric big_orders is stored in this link under another definition \(version \\?"1\\?" -> \\?"2\\?"\)/,
    );
  });

  it("follows the recipe for a new source: registered, computed, served, compared, recomputed offline", async () => {
    const [a, b] = await Promise.all([startTestLink("a", PARTITIONS), startTestLink("b", PARTITIONS)]);
    links.push(a, b);
    const dims = await prepareDimensions([a, b]);
    const start = Date.now() - 3_000_000;
    await produceVisits([a, b], 3_000, start);
    const pa = processor(a, dims.categoryIndustry, "test/catalog/extension.ts");
    const pb = processor(b, dims.categoryIndustry, "test/catalog/extension.ts");
    await feed([a, b], { count: 20_000, partitions: PARTITIONS, startAgoMs: 3_000_000 });
    await Promise.all([settled(a), settled(b)]);

    const date = clock.dateOf(start);
    const dayA = await a.client.zrange(keys.day(date, "visits", "page"), "0", "-1", "WITHSCORES");
    assert.equal(dayA.length, 20, "ten pages");
    assert.deepEqual(await b.client.zrange(keys.day(date, "visits", "page"), "0", "-1", "WITHSCORES"), dayA);
    assert.equal(Number(await a.client.zscore(keys.day(date, "visits", "all"), "all")), 3_000);

    const gateway = await startGatewayFor([a, b], TIME_ZONE);
    stops.push(() => gateway.close());
    const served = await gateway.get(`/v1/metrics/visits?dim=page&key=p-3&date=${date}`);
    assert.equal(served.statusCode, 200, JSON.stringify(served.body));
    assert.equal(served.body.value, 300);
    assert.equal(served.body.complete, true);
    const ratio = await gateway.get(`/v1/metrics/visits_per_order?date=${date}`);
    assert.equal(typeof ratio.body.value, "number");

    const probes = [a, b].map(
      (l) =>
        new LinkProbe(
          { id: l.id, redisUrl: l.redis.url, kafkaBrokers: [l.kafka.bootstrap] },
          clock,
          2_000,
          2_000,
          new Scrubber(l.redis.url, clock, { minutesPerRound: 60, timeoutMs: 2_000 }, () => {}),
        ),
    );
    stops.push(async () => Promise.all(probes.map((p) => p.close())));
    // A probe's connection fails commands rather than queue them until it is up, as the comparator wants.
    await waitFor("the probes to connect", async () =>
      (await Promise.all(probes.map((p) => p.progress()))).every((r) => r.error === null),
    );
    const [oa, ob] = await Promise.all(probes.map(async (p) => p.values(date, await p.progress())));
    assert.ok(oa && ob);
    const visitDigests = Object.keys(oa.digests).filter((f) => f.endsWith("|visits"));
    assert.ok(visitDigests.length > 0, "closed minutes of visits are digested");
    assert.deepEqual(oa.digests, ob.digests);
    assert.deepEqual(oa.incomplete, []);
    const field = visitDigests[0] as string;
    const corrupted = { ...ob, link: "c", digests: { ...ob.digests, [field]: "corrupted" } };
    const judge = new Judge(
      ["a", "b", "c"],
      {
        heartbeatStaleMs: 60_000,
        lagBoundMs: 60_000,
        lagBoundRecords: 1e9,
        hysteresisProbes: 1,
        gapWindow: 4,
      },
      Date.now(),
    );
    const { links: judged } = judge.step([oa, ob, corrupted], Date.now());
    assert.equal(judged[2]?.state, "diverged", "the comparator compares the new source's metric");
    assert.equal(judged[2]?.findings[0]?.evidence.metric, "visits");
    assert.equal(digestField(String(judged[2]?.findings[0]?.evidence.minute), "visits"), field);

    const scratch = await recomputeLink(a, dims.categoryIndustry);
    stops.push(async () => scratch.disconnect());
    assert.equal(
      formatDifferences(await diffLinks(a.client, scratch, clock)),
      "",
      "a equals the offline recompute",
    );
    assert.equal(await stopProcessor(pa), 0);
    assert.equal(await stopProcessor(pb), 0);
  });

  it("refuses to start on an unregistered source or a registered topic its Kafka lacks, naming it", async () => {
    const link = await startTestLink("z", PARTITIONS);
    links.push(link);
    const unregistered = processor(link, "", "test/catalog/unregisteredSourceExtension.ts");
    assert.notEqual(await unregistered.exited, 0);
    assert.match(unregistered.output(), /metric clicks reads source clicks, which is not registered/);
    const capped = processor(link, "", "", { SOURCE_RATE_CAPS: "trade=100,clicks=5" });
    assert.equal(await capped.exited, 1);
    assert.match(capped.output(), /SOURCE_RATE_CAPS=.*clicks is not a source; sources: trade, ads/);
    const missing = processor(link, "", "test/catalog/missingTopicExtension.ts");
    assert.equal(await missing.exited, 3);
    assert.match(missing.output(), /the link's Kafka has no topic web\.clicks/);
  });
});
