import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Consul from "consul";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys, minuteField } from "../../common/keys.ts";
import type { BuiltComparator } from "../../comparator/app.ts";
import type { ScrubMismatch } from "../../comparator/scrub.ts";
import { type ConsulDevServer, startConsulDevServer } from "../../devstack/consul/server.ts";
import { feed, prepareDimensions } from "../../harness/feed.ts";
import {
  caughtUp,
  type ProcessorChild,
  spawnProcessor,
  startTestLink,
  stopProcessor,
  type TestLink,
  waitFor,
} from "../../harness/links.ts";
import { comparatorAt, http, readRouting, repairEnded } from "./harness.ts";

// The scrub against real links: three links fed the same generator stream (late records, refunds, distinct
// users) by real processors, then one standby link corrupted in each way an operator, a restore or a bug
// could, one at a time. Each must be found by the scrub and judged `diverged` with the evidence, and the link
// must be judged healthy again once the corruption is undone, before the next one.

const LINKS = ["a", "b", "c"];
const PARTITIONS = 2;
const TIME_ZONE = "Asia/Shanghai";
const clock = new BusinessClock(TIME_ZONE);

type LinksView = ReturnType<BuiltComparator["comparator"]["linksView"]>["links"][number];

describe("scrub: corruptions of a standby link are found and judged diverged", () => {
  let links: TestLink[];
  let consulServer: ConsulDevServer;
  let consul: Consul;
  let dir: string;
  let c: BuiltComparator;
  const processors: ProcessorChild[] = [];
  /** The business day the feed's events fall in, and its closed minutes that hold values. */
  let date: string;
  let closedMinutes: string[];

  const view = (link: string) => c.comparator.linksView().links.find((l) => l.id === link) as LinksView;
  const standby = () => links.find((l) => l.id === "c") as TestLink;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "scrub-"));
    [links, consulServer] = await Promise.all([
      Promise.all(LINKS.map((id) => startTestLink(id, PARTITIONS))),
      startConsulDevServer({ port: 0 }),
    ]);
    consul = new Consul({ host: "127.0.0.1", port: consulServer.port });
    const dims = await prepareDimensions(links);
    // Ten minutes of event time ending an hour ago: many closed minutes, and late records among them.
    const start = Date.now() - 3_600_000;
    const fed = await feed(links, {
      count: 12_000,
      partitions: PARTITIONS,
      startAgoMs: 3_600_000,
      eventRate: 20,
    });
    for (const l of fed.result.links) assert.equal(l.dropped, 0, `the feed reached link ${l.id}`);
    for (const link of links)
      processors.push(spawnProcessor(link, { TIME_ZONE, DIM_CATEGORY_FILE: dims.categoryIndustry }));
    for (const link of links) await waitFor(`link ${link.id} to apply its feed`, () => caughtUp(link));
    date = clock.dateOf(start);
    c = await comparatorAt(
      { consulServer, dir },
      {
        links: LINKS,
        env: {
          PROBE_INTERVAL: "100ms",
          SCRUB_INTERVAL: "100ms",
          COMPARATOR_ID: "cmp-scrub",
          TIME_ZONE,
          // A repair run from the API must compute exactly what the processors did.
          DIM_CATEGORY_FILE: dims.categoryIndustry,
        },
        addresses: links.map((l) => ({ id: l.id, kafkaBrokers: [l.kafka.bootstrap], redisUrl: l.redis.url })),
      },
    );
    await c.comparator.leader.start();
    c.comparator.startProbing();
    const digests = await standby().client.hkeys(keys.digests(date));
    closedMinutes = [...new Set(digests.map((f) => f.split("|")[0] as string))].sort();
  });

  after(async () => {
    await c?.close();
    consul?.destroy();
    for (const p of processors) await stopProcessor(p, "SIGKILL");
    await Promise.all([...(links ?? []).map((l) => l.stop()), consulServer?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** Waits for two more full scrub passes over link c, so everything it holds was checked since now. */
  async function scrubbedTwice(): Promise<void> {
    const from = view("c").scrub.cycles;
    await waitFor("two scrub passes over link c", () => view("c").scrub.cycles >= from + 2);
  }

  async function healthyEverywhere(): Promise<void> {
    await waitFor("every link to be healthy", () =>
      c.comparator.linksView().links.every((l) => l.state === "healthy"),
    );
  }

  /** Corrupts link c, expects it diverged with a scrub finding that `matches`, undoes it, expects healthy. */
  async function corrupt(
    damage: () => Promise<unknown>,
    repair: () => Promise<unknown>,
    matches: (m: ScrubMismatch) => boolean,
  ): Promise<ScrubMismatch> {
    await healthyEverywhere();
    await damage();
    let found: ScrubMismatch | undefined;
    try {
      await waitFor("link c judged diverged by the scrub", () => {
        const v = view("c");
        const finding = v.findings.find((f) => f.rule === "scrub_mismatch");
        found = (finding?.evidence.all as ScrubMismatch[] | undefined)?.find(matches);
        return v.state === "diverged" && found !== undefined;
      });
      assert.ok(view("c").scrub.mismatches.some(matches), "/v1/links shows the mismatch");
      for (const other of ["a", "b"]) assert.notEqual(view(other).state, "diverged");
    } finally {
      await repair();
    }
    await scrubbedTwice();
    assert.deepEqual(view("c").scrub.mismatches, [], "the scrub finds nothing once it is undone");
    await healthyEverywhere();
    return found as ScrubMismatch;
  }

  it("finds nothing on sound links, late contributions included, over whole passes", async () => {
    assert.ok(closedMinutes.length >= 5, `closed minutes: ${closedMinutes.join(",")}`);
    assert.ok((await standby().client.hlen(keys.late(date))) > 0, "the feed has late records");
    await scrubbedTwice();
    for (const link of LINKS) {
      assert.deepEqual(view(link).scrub.mismatches, [], `link ${link}`);
      assert.ok(view(link).scrub.minutesChecked >= closedMinutes.length);
      assert.equal(view(link).scrub.error, null);
    }
    await healthyEverywhere();
    assert.equal((await readRouting(consul))?.active, "a", "link c is a standby");
  });

  it("finds a changed value of a closed minute", async () => {
    const minute = closedMinutes[2] as string;
    const key = keys.minute(date, minute);
    const field = minuteField("gmv", "all", "all");
    const before = await standby().client.hget(key, field);
    const found = await corrupt(
      () => standby().client.hincrby(key, field, 777),
      () => standby().client.hincrby(key, field, -777),
      (m) => m.check === "minute_digest" && m.minute === minute && m.metric === "gmv",
    );
    assert.equal(found.date, date);
    assert.notEqual(found.stored, found.derived);
    assert.ok(before !== null);
  });

  it("finds a changed day value", async () => {
    const day = keys.day(date, "paid_orders", "industry");
    const [industry] = await standby().client.zrange(day, "0", "0");
    const found = await corrupt(
      () => standby().client.zincrby(day, 777, industry as string),
      () => standby().client.zincrby(day, -777, industry as string),
      (m) =>
        m.check === "day_sum" && m.metric === "paid_orders" && m.dim === "industry" && m.key === industry,
    );
    assert.equal(Number(found.stored) - Number(found.derived), 777);
  });

  it("finds a changed digest", async () => {
    const minute = closedMinutes[1] as string;
    const field = `${minute}|ad_cost`;
    const original = (await standby().client.hget(keys.digests(date), field)) as string;
    const found = await corrupt(
      () => standby().client.hset(keys.digests(date), field, "0".repeat(40)),
      () => standby().client.hset(keys.digests(date), field, original),
      (m) => m.check === "minute_digest" && m.minute === minute && m.metric === "ad_cost",
    );
    assert.deepEqual([found.stored, found.derived], ["0".repeat(40), original]);
  });

  it("finds a changed HyperLogLog", async () => {
    const minute = closedMinutes[3] as string;
    const hll = keys.minuteHll(date, minute, "buyers", "all", "all");
    const saved = (await standby().client.dumpBuffer(hll)) as Buffer;
    assert.ok(saved, "the minute has a HyperLogLog");
    const found = await corrupt(
      () => standby().client.pfadd(hll, "intruder-1", "intruder-2", "intruder-3"),
      () => standby().client.restore(hll, 0, saved, "REPLACE"),
      (m) => m.check === "minute_hll" && m.minute === minute && m.metric === "buyers",
    );
    assert.ok(Number(found.derived) > Number(found.stored));
  });

  it("finds a deleted key (a closed minute's hash)", async () => {
    const minute = closedMinutes[4] as string;
    const key = keys.minute(date, minute);
    const saved = (await standby().client.dumpBuffer(key)) as Buffer;
    const found = await corrupt(
      () => standby().client.del(key),
      () => standby().client.restore(key, 0, saved, "REPLACE"),
      (m) => m.check === "minute_digest" && m.minute === minute && m.derived === "",
    );
    assert.notEqual(found.stored, "");
  });

  it("finds an extra key (a closed minute that had no values, now with one and no digest)", async () => {
    // The hour before the feed began is closed and held nothing.
    const minute = clock.bucket(clock.instantOf(date, closedMinutes[0]) - 30 * 60_000).minute;
    const key = keys.minute(date, minute);
    assert.equal(await standby().client.exists(key), 0);
    const found = await corrupt(
      () => standby().client.hset(key, minuteField("refunds", "all", "all"), "1"),
      () => standby().client.del(key),
      (m) => m.check === "minute_digest" && m.minute === minute && m.metric === "refunds",
    );
    assert.equal(found.stored, "");
  });

  it("has what it found repaired from the link's own Kafka through the API: healthy again, eligible only later", async () => {
    await healthyEverywhere();
    const minute = closedMinutes[3] as string;
    await standby().client.hincrby(keys.minute(date, minute), minuteField("gmv", "all", "all"), 777);
    await waitFor("link c judged diverged by the scrub", () => view("c").state === "diverged");
    const started = await http(c, "POST", "/v1/links/c/repair", {
      reason: "the scrub found gmv",
      operator: "tester",
    });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    const status = await repairEnded(c, "c");
    assert.equal(status.state, "succeeded", JSON.stringify(status));
    assert.ok(Number((status.summary as { changed: number }).changed) >= 1);
    await scrubbedTwice();
    assert.deepEqual(view("c").scrub.mismatches, [], "the scrub finds nothing after the repair");
    await healthyEverywhere();
    assert.equal(view("c").eligible, false, "eligible again only after the healthy closed minutes rule");
  });
});
