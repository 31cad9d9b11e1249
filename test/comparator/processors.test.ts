import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Consul from "consul";
import { BusinessClock } from "../../common/businessTime.ts";
import { keys } from "../../common/keys.ts";
import type { BuiltComparator } from "../../comparator/app.ts";
import type { LinkJudgement } from "../../comparator/judge.ts";
import { type ConsulDevServer, startConsulDevServer } from "../../devstack/consul/server.ts";
import { type IdenticalFeed, startIdenticalFeed } from "../../harness/identicalFeed.ts";
import {
  type ProcessorChild,
  spawnProcessor,
  startTestLink,
  stopProcessor,
  type TestLink,
  waitFor,
} from "../../harness/links.ts";
import { comparatorAt, readRouting } from "./harness.ts";

// The comparator against real links: an embedded Kafka, a redis-server and a processor process per link, all
// fed the same events. Event time runs ten times faster than the wall clock so that minutes close in seconds.
// Each scenario builds its own comparator with thresholds that leave one rule to decide, so that the state
// it expects is the only one the fault can produce.

const LINKS = ["a", "b", "c"];
const PARTITIONS = 2;
const clock = new BusinessClock("Asia/Shanghai");
// Yesterday at 10:00 in the business zone: in the past, and hours from a business-day boundary.
const START = clock.instantOf(clock.dateOf(Date.now() - 86_400_000), "1000");

describe("comparator with real processors", () => {
  let links: TestLink[];
  let consulServer: ConsulDevServer;
  let consul: Consul;
  let dir: string;
  let feed: IdenticalFeed;
  const processors = new Map<string, ProcessorChild>();

  const linkOf = (id: string) => links.find((l) => l.id === id) as TestLink;

  async function startComparator(env: Record<string, string>): Promise<BuiltComparator> {
    const built = await comparatorAt(
      { consulServer, dir },
      {
        links: LINKS,
        env: { PROBE_INTERVAL: "100ms", COMPARATOR_ID: "cmp-real", ...env },
        addresses: links.map((l) => ({ id: l.id, kafkaBrokers: [l.kafka.bootstrap], redisUrl: l.redis.url })),
      },
    );
    await built.comparator.leader.start();
    built.comparator.startProbing();
    try {
      await waitFor("every link to be judged healthy", () => allHealthy(built), 90_000);
    } catch (err) {
      const seen = built.comparator
        .linksView()
        .links.map((l) => `${l.id}: ${l.state} ${JSON.stringify(l.findings)}`);
      await built.close();
      throw new Error(`${(err as Error).message}; the comparator saw\n${seen.join("\n")}`);
    }
    return built;
  }

  const active = async () => (await readRouting(consul))?.active as string;

  const judgement = (built: BuiltComparator, link: string) =>
    built.comparator.linksView().links.find((l) => l.id === link) as ReturnType<
      BuiltComparator["comparator"]["linksView"]
    >["links"][number];
  const allHealthy = (built: BuiltComparator) =>
    built.comparator.linksView().links.every((l) => l.state === "healthy" && l.lagRecords !== null);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "comparator-real-"));
    [links, consulServer] = await Promise.all([
      Promise.all(LINKS.map((id) => startTestLink(id, PARTITIONS))),
      startConsulDevServer({ port: 0 }),
    ]);
    consul = new Consul({ host: "127.0.0.1", port: consulServer.port });
    feed = await startIdenticalFeed(links, {
      partitions: PARTITIONS,
      startTime: START,
      speed: 10,
      tickMs: 100,
    });
    for (const link of links) processors.set(link.id, spawnProcessor(link));
    await waitFor("every link to close a minute", async () => {
      for (const link of links)
        if (Number((await link.client.get(keys.closedThrough)) ?? 0) === 0) return false;
      return true;
    });
  });

  after(async () => {
    await feed?.stop();
    for (const p of processors.values()) {
      p.child.kill("SIGCONT");
      await stopProcessor(p, "SIGKILL");
    }
    consul?.destroy();
    await Promise.all([...(links ?? []).map((l) => l.stop()), consulServer?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it("fails over from the active link when its processor is killed (down: its heartbeat stops)", async () => {
    // Lag bounds out of reach: only the heartbeat can tell.
    const c = await startComparator({
      HEARTBEAT_STALE: "3s",
      LAG_BOUND_MS: "1h",
      LAG_BOUND_RECORDS: "100000000",
    });
    const killed = await active();
    try {
      await stopProcessor(processors.get(killed) as ProcessorChild, "SIGKILL");
      await waitFor(`the routing to leave link ${killed}`, async () => (await active()) !== killed);
      const routing = await readRouting(consul);
      assert.equal(routing?.changedBy, "cmp-real");
      assert.match(routing?.reason ?? "", new RegExp(`^link ${killed} is down: newest heartbeat`));
      const dead = judgement(c, killed);
      assert.equal(dead.state, "down");
      assert.equal(dead.findings[0]?.rule, "heartbeat_stale");
    } finally {
      await c.close();
    }
    processors.set(killed, spawnProcessor(linkOf(killed)));
  });

  it("calls a SIGSTOPped active link lagging and moves off it", async () => {
    // A heartbeat bound out of reach: only the watermark can tell (60 s of event time = 6 s of wall clock, far
    // above what a busy machine puts between healthy links).
    const c = await startComparator({ HEARTBEAT_STALE: "1h", LAG_BOUND_MS: "60s" });
    const link = await active();
    const stopped = processors.get(link) as ProcessorChild;
    try {
      stopped.child.kill("SIGSTOP");
      await waitFor(`the routing to leave link ${link}`, async () => (await active()) !== link);
      const judged = judgement(c, link);
      assert.equal(judged.state, "lagging");
      assert.equal(judged.findings[0]?.rule, "watermark_behind");
      assert.ok((judged.findings[0]?.evidence.behindMs as number) > 60_000);
    } finally {
      stopped.child.kill("SIGCONT");
      await c.close();
    }
  });

  it("calls the link whose data went wrong diverged, by the majority of the closed minutes", async () => {
    const c = await startComparator({ LAG_BOUND_MS: "60s" });
    try {
      feed.dropOnLink("c", 0);
      let found: LinkJudgement["findings"][number] | undefined;
      await waitFor("a closed minute of link c to disagree with the majority", () => {
        found = judgement(c, "c").findings.find((f) => f.rule === "digest_mismatch");
        return found !== undefined;
      });
      assert.equal(judgement(c, "c").state, "diverged");
      assert.deepEqual(found?.evidence.majorityLinks, ["a", "b"]);
      // On two busy cores a healthy link may blip lagging meanwhile; what matters is that it is not blamed.
      assert.notEqual(judgement(c, "a").state, "diverged");
      assert.notEqual(judgement(c, "b").state, "diverged");
    } finally {
      await c.close();
    }
  });
});
