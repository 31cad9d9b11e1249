import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { CONSUL_KEYS, type HealthDocument, initialRouting } from "../../common/routing.ts";
import type { BuiltComparator } from "../../comparator/app.ts";
import { RoutingStore } from "../../comparator/routingWriter.ts";
import { startRedis } from "../../devstack/redis/launcher.ts";
import { waitFor } from "../../harness/links.ts";
import {
  buildTestComparator,
  freshComparator,
  http,
  type LinkFixture,
  metricsText,
  probe,
  readRouting,
  type Stack,
  startStack,
} from "./harness.ts";

// The comparator in-process against real redis-servers and the Consul dev server. Link states are written
// straight into Redis, and probes are run one at a time (tick), so every rule is exercised probe by probe.

const LINKS = ["a", "b", "c"];
const STALE = { heartbeatAgeMs: 5_000 };

async function audit(c: BuiltComparator, limit = 100) {
  return (await http(c, "GET", `/v1/audit?limit=${limit}`)).json.records as {
    id: string;
    kind: string;
    by: string;
    link?: string;
    from?: string;
    to?: string;
    reason: string;
    routingVersion?: number;
    evidence: Record<string, never>;
  }[];
}

async function linkStates(c: BuiltComparator): Promise<Record<string, string>> {
  const { json } = await http(c, "GET", "/v1/links");
  return Object.fromEntries((json.links as { id: string; state: string }[]).map((l) => [l.id, l.state]));
}

describe("comparator: judging and automatic failover", () => {
  let stack: Stack;
  let c: BuiltComparator;

  before(async () => {
    stack = await startStack(LINKS);
  });
  after(() => stack.stop());

  beforeEach(async () => {
    c = await freshComparator(stack, LINKS);
  });
  afterEach(() => c.close());

  it("creates the routing document, publishes health and serves every link healthy", async () => {
    const routing = await readRouting(stack.consul);
    assert.equal(routing?.version, 1);
    assert.equal(routing?.active, "a");
    assert.deepEqual(routing?.standby, ["b", "c"]);
    assert.equal(routing?.mode, "auto");
    assert.equal(routing?.changedBy, "cmp-1");

    const health = JSON.parse((await stack.consul.kv.get(CONSUL_KEYS.health))?.Value ?? "") as HealthDocument;
    assert.deepEqual(Object.fromEntries(Object.entries(health.links).map(([l, h]) => [l, h.state])), {
      a: "healthy",
      b: "healthy",
      c: "healthy",
    });

    const { json: links } = await http(c, "GET", "/v1/links");
    assert.equal(links.leader, true);
    assert.deepEqual(
      links.links.map((l: { id: string; state: string; lagRecords: null }) => [l.id, l.state, l.lagRecords]),
      [
        ["a", "healthy", null],
        ["b", "healthy", null],
        ["c", "healthy", null],
      ],
      "Kafka is unreachable in this stack: the lag is unknown, not a crash",
    );

    const records = await audit(c);
    assert.deepEqual(
      records.map((r) => r.id),
      records
        .map((r) => r.id)
        .sort()
        .reverse(),
      "newest first",
    );
    assert.equal(records.filter((r) => r.kind === "initial_routing").length, 1);
    assert.equal(records.filter((r) => r.kind === "state_change" && r.to === "healthy").length, 3);

    const metrics = await metricsText(c);
    assert.match(metrics, /oneservice_comparator_link_state\{[^}]*link="a",state="healthy"[^}]*\} 1/);
    assert.match(metrics, /oneservice_comparator_is_leader\{[^}]*\} 1/);
    assert.match(metrics, /oneservice_comparator_routing_version\{[^}]*\} 1/);
    assert.equal((await c.app.inject({ method: "GET", url: "/readyz" })).statusCode, 200);
  });

  it("fails over from a link whose heartbeat went stale, with the evidence, and never fails back", async () => {
    await probe(stack, c, 3, (l) => (l === "a" ? STALE : {}));
    const routing = await readRouting(stack.consul);
    assert.equal(routing?.version, 2);
    assert.equal(routing?.active, "b");
    assert.deepEqual(routing?.standby, ["c", "a"]);
    assert.equal(routing?.changedBy, "cmp-1");
    assert.match(routing?.reason ?? "", /link a is down: newest heartbeat \d+ ms old \(bound 2000 ms\)/);

    const [decision] = (await audit(c)).filter((r) => r.kind === "auto_failover");
    assert.equal(decision?.from, "a");
    assert.equal(decision?.to, "b");
    assert.equal(decision?.routingVersion, 2);
    const evidence = decision?.evidence as unknown as {
      active: { findings: { rule: string; evidence: { ageMs: number } }[] };
      thresholds: { heartbeatStaleMs: number; hysteresisProbes: number };
      timing: { decidedAt: number; writtenAt: number };
    };
    assert.equal(evidence.active.findings[0]?.rule, "heartbeat_stale");
    assert.ok(evidence.active.findings[0].evidence.ageMs > 2_000);
    assert.deepEqual(
      [evidence.thresholds.heartbeatStaleMs, evidence.thresholds.hysteresisProbes],
      [2_000, 3],
    );
    assert.ok(evidence.timing.writtenAt >= evidence.timing.decidedAt);

    const health = JSON.parse((await stack.consul.kv.get(CONSUL_KEYS.health))?.Value ?? "") as HealthDocument;
    assert.equal(health.links.a?.state, "down");
    assert.match(health.links.a?.detail ?? "", /heartbeat/);
    assert.match(
      await metricsText(c),
      /oneservice_comparator_decisions_total\{[^}]*kind="auto_failover"[^}]*\} 1/,
    );

    await probe(stack, c, 6);
    assert.equal((await linkStates(c)).a, "healthy");
    const after = await readRouting(stack.consul);
    assert.equal(after?.version, 2, "a recovered link is not failed back to");
    const { json } = await http(c, "GET", "/v1/links");
    assert.equal(
      json.links[0].eligible,
      false,
      "and is not eligible before FAILBACK_AFTER_MINUTES closed minutes",
    );
  });

  it("marks a link whose watermark falls behind lagging, and moves active off it", async () => {
    await probe(stack, c, 3, (l) => (l === "a" ? { watermarkBehindMs: 5_000 } : {}));
    assert.equal((await linkStates(c)).a, "lagging");
    assert.equal((await readRouting(stack.consul))?.active, "b");
  });

  it("marks the link whose closed minute differs from the majority diverged, and only it", async () => {
    const closedThrough = Date.now() - 60_000;
    const digests = { "1000|gmv": "d0", "1001|gmv": "d1" };
    await probe(stack, c, 3, (l) => ({
      closedThrough,
      digests: l === "c" ? { ...digests, "1001|gmv": "other" } : digests,
    }));
    assert.deepEqual(await linkStates(c), { a: "healthy", b: "healthy", c: "diverged" });
    const [change] = (await audit(c)).filter((r) => r.kind === "state_change" && r.to === "diverged");
    const findings = change?.evidence.findings as unknown as {
      rule: string;
      evidence: Record<string, unknown>;
    }[];
    const finding = findings?.[0];
    assert.equal(finding?.rule, "digest_mismatch");
    assert.deepEqual(finding?.evidence.majorityLinks, ["a", "b"]);
    assert.equal(
      (await readRouting(stack.consul))?.version,
      1,
      "a diverged standby does not move the routing",
    );
  });

  it("marks the active link diverged when its live value falls further behind at every probe, and fails over", async () => {
    await probe(stack, c, 10, (l, n) => ({ values: { gmv: l === "a" ? 1_000 + 90 * n : 1_000 + 100 * n } }));
    assert.equal((await linkStates(c)).a, "diverged");
    const routing = await readRouting(stack.consul);
    assert.equal(routing?.active, "b");
    assert.match(routing?.reason ?? "", /gmv reads smaller than the others/);
  });

  it("leaves a metric that a link does not hold whole out of the comparison, and shows why", async () => {
    await probe(stack, c, 10, (l, n) => ({
      values: { gmv: l === "a" ? 1_000 + 90 * n : 1_000 + 100 * n },
      addedNow: l === "a" ? ["gmv"] : [],
    }));
    assert.equal((await linkStates(c)).a, "healthy", "gmv is not compared while a does not hold it whole");
    const { json } = await http(c, "GET", "/v1/links");
    const views = json.links as { id: string; incomplete: string[]; notCompared: string[] }[];
    assert.deepEqual(views.find((v) => v.id === "a")?.incomplete, ["gmv"]);
    assert.deepEqual(views.find((v) => v.id === "b")?.notCompared, ["gmv"]);
    await probe(stack, c, 10, (l, n) => ({ values: { gmv: l === "a" ? 2_000 + 90 * n : 2_000 + 100 * n } }));
    assert.equal((await linkStates(c)).a, "diverged", "compared again once every link holds it whole");
  });

  it("does not move the routing for a link that flaps faster than the hysteresis", async () => {
    await probe(stack, c, 30, (l, n) => (l === "a" && n % 2 === 0 ? STALE : {}));
    assert.equal((await linkStates(c)).a, "healthy");
    assert.equal((await readRouting(stack.consul))?.version, 1);
    assert.equal((await audit(c)).filter((r) => r.link === "a" && r.to !== "healthy").length, 0);
  });

  it("keeps the active link when no other is healthy, and records that once", async () => {
    await probe(stack, c, 8, () => STALE);
    assert.deepEqual(await linkStates(c), { a: "down", b: "down", c: "down" });
    assert.equal((await readRouting(stack.consul))?.active, "a");
    assert.equal((await audit(c)).filter((r) => r.kind === "no_target").length, 1);
  });

  it("continues from a routing document another writer left, never over it", async () => {
    const store = new RoutingStore(stack.consul, LINKS);
    const current = await store.read();
    const foreign = { ...initialRouting(LINKS, "elsewhere"), version: 41, active: "c", standby: ["a", "b"] };
    const record = (reason: string) =>
      c.comparator.audit.stamp({ kind: "manual_failover", by: "operator:test", reason, evidence: {} });
    const first = record("foreign writer");
    assert.equal(await store.write(foreign, current.modifyIndex, c.comparator.audit.consulOp(first)), true);
    const lost = record("stale writer");
    assert.equal(
      await store.write({ ...foreign, version: 99 }, current.modifyIndex, c.comparator.audit.consulOp(lost)),
      false,
      "a stale index loses",
    );
    // The change and its record are written together or not at all.
    assert.ok(await stack.consul.kv.get(`${CONSUL_KEYS.audit}${first.id}`));
    assert.equal(await stack.consul.kv.get(`${CONSUL_KEYS.audit}${lost.id}`), undefined);
    await probe(stack, c, 3, (l) => (l === "c" ? STALE : {}));
    const routing = await readRouting(stack.consul);
    assert.equal(routing?.version, 42);
    assert.equal(routing?.active, "a");
  });

  it("counts the gateways that run the newest routing version", async () => {
    const ack = (gatewayId: string, version: number) =>
      JSON.stringify({ gatewayId, version, appliedAt: new Date().toISOString(), active: "a" });
    await stack.consul.kv.set(`${CONSUL_KEYS.gatewayAcks}g1`, ack("g1", 1));
    await stack.consul.kv.set(`${CONSUL_KEYS.gatewayAcks}g2`, ack("g2", 2));
    await stack.consul.kv.set(`${CONSUL_KEYS.gatewayAcks}junk`, "not json");
    await stack.consul.kv.set(`${CONSUL_KEYS.gatewayAcks}zero`, ack("zero", 0));
    await stack.consul.kv.set(`${CONSUL_KEYS.gatewayAcks}huge`, ack("x".repeat(500), 1));
    await waitFor("the acknowledgements to be read", async () => {
      await c.comparator.tick();
      return (await http(c, "GET", "/v1/routing")).json.gateways.total === 2;
    });
    const { json } = await http(c, "GET", "/v1/routing");
    assert.equal(json.gateways.onNewest, 1);
    assert.equal(json.routing.version, 1);
    assert.equal(json.leader.holder.id, "cmp-1");
    assert.match(await metricsText(c), /oneservice_comparator_gateways_acked\{[^}]*\} 1/);
  });

  it("declares a link whose Redis is killed down, and healthy again (not yet eligible) once it is back", async () => {
    const redis = stack.redis.get("c");
    assert.ok(redis);
    process.kill(redis.server.pid, "SIGKILL");
    await redis.server.stop();
    await probe(stack, c, 3, (l) => (l === "c" ? "skip" : {}));
    const { json } = await http(c, "GET", "/v1/links");
    const linkC = json.links[2];
    assert.equal(linkC.state, "down");
    assert.equal(linkC.findings[0].rule, "unreachable");

    redis.server = await startRedis({ linkId: "c", dataDir: redis.dataDir, port: redis.server.port });
    await waitFor("link c to be healthy again", async () => {
      await probe(stack, c, 1, (l) => (l === "c" ? "skip" : {}));
      await probe(stack, c, 1).catch(() => {});
      return (await linkStates(c)).c === "healthy";
    });
    assert.equal((await http(c, "GET", "/v1/links")).json.links[2].eligible, false);
  });
});

describe("comparator: operators", () => {
  let stack: Stack;
  let c: BuiltComparator;
  const alice = (extra: Record<string, unknown> = {}) => ({ reason: "drill", operator: "alice", ...extra });

  before(async () => {
    stack = await startStack(LINKS);
    c = await buildTestComparator(stack, { links: LINKS });
    await c.comparator.leader.start();
    await probe(stack, c, 3);
  });
  after(async () => {
    await c.close();
    await stack.stop();
  });

  it("asks for the admin token and a valid request", async () => {
    assert.equal((await http(c, "POST", "/v1/failover", alice({ to: "b" }), null)).status, 401);
    assert.equal((await http(c, "POST", "/v1/failover", alice({ to: "b" }), "wrong")).status, 403);
    assert.equal((await http(c, "POST", "/v1/failover", { to: "b", operator: "alice" })).status, 400);
    assert.equal((await http(c, "POST", "/v1/failover", alice({ to: "z" }))).status, 400);
    assert.equal((await http(c, "POST", "/v1/failover", alice({ to: "b", reason: "x" }))).status, 400);
    assert.equal((await readRouting(stack.consul))?.version, 1);
  });

  it("refuses an unhealthy target with the evidence, and records the refusal", async () => {
    const cDown = (l: string): LinkFixture => (l === "c" ? STALE : {});
    await probe(stack, c, 3, cDown);
    const { status, json } = await http(c, "POST", "/v1/failover", alice({ to: "c" }));
    assert.equal(status, 409);
    assert.equal(json.code, "target_not_healthy");
    assert.equal(json.evidence.state, "down");
    assert.equal(json.evidence.findings[0].rule, "heartbeat_stale");
    assert.equal((await readRouting(stack.consul))?.version, 1);
    const [refused] = await audit(c, 1);
    assert.equal(refused?.kind, "refused");
    assert.equal(refused?.by, "operator:alice");
  });

  it("lets an operator force it (break-glass), recorded as forced", async () => {
    const { status, json } = await http(
      c,
      "POST",
      "/v1/failover",
      alice({ to: "c", force: true, reason: "test the gateways" }),
    );
    assert.equal(status, 200);
    assert.equal(json.routing.active, "c");
    assert.equal(json.routing.version, 2);
    assert.equal(json.routing.changedBy, "operator:alice");
    assert.equal(json.audit.kind, "forced_failover");
    assert.equal(json.audit.evidence.forced, true);
    assert.equal(json.audit.evidence.target.state, "down");
    assert.equal(typeof json.audit.evidence.client.ip, "string");
    assert.deepEqual(await readRouting(stack.consul), json.routing);
  });

  it("moves to a healthy target at once, and says when nothing would change", async () => {
    const { status, json } = await http(c, "POST", "/v1/failover", alice({ to: "a", reason: "back to a" }));
    assert.equal(status, 200);
    assert.equal(json.audit.kind, "manual_failover");
    assert.equal(json.routing.version, 3);
    assert.deepEqual(json.routing.standby, ["b", "c"]);
    const again = await http(c, "POST", "/v1/failover", alice({ to: "a" }));
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "no_change");
  });

  it("pins: automatic failover leaves a pinned link alone until it is unpinned", async () => {
    const pinned = await http(c, "POST", "/v1/pin", alice({ reason: "hold a during the migration" }));
    assert.equal(pinned.status, 200);
    assert.equal(pinned.json.routing.mode, "manual");
    assert.equal(pinned.json.routing.active, "a");
    assert.equal((await http(c, "POST", "/v1/pin", alice())).status, 409);

    await probe(stack, c, 5, (l) => (l === "a" ? STALE : {}));
    assert.equal((await readRouting(stack.consul))?.active, "a");
    assert.equal((await audit(c)).filter((r) => r.kind === "pinned_hold").length, 1);

    const unpinned = await http(c, "POST", "/v1/unpin", alice({ reason: "migration done" }));
    assert.equal(unpinned.status, 200);
    assert.equal(unpinned.json.routing.mode, "auto");
    await probe(stack, c, 1, (l) => (l === "a" ? STALE : {}));
    const routing = await readRouting(stack.consul);
    assert.equal(routing?.active, "b");
    assert.equal(routing?.changedBy, "cmp-1");
  });

  it("keeps every decision in Consul and in the local file, newest first", async () => {
    const records = await audit(c);
    const kinds = records.map((r) => r.kind);
    // Newest first. Other links' state changes may interleave with the pinned hold on a loaded machine, so
    // only the order of this test's own decisions is asserted.
    assert.deepEqual(kinds.slice(0, 2), ["auto_failover", "unpin"]);
    const hold = kinds.indexOf("pinned_hold");
    assert.ok(hold > 1, `the pinned hold is older than the unpin (${kinds.join(", ")})`);
    assert.ok(
      kinds.indexOf("state_change", hold) > hold,
      "a's state change is older than the hold it caused",
    );
    assert.deepEqual(
      (await audit(c, 2)).map((r) => r.id),
      records.slice(0, 2).map((r) => r.id),
    );
    const keys = await stack.consul.kv.keys(CONSUL_KEYS.audit);
    assert.equal(keys.length, records.length);
    const lines = (await readFile(join(stack.dir, "audit.jsonl"), "utf8")).trim().split("\n");
    assert.equal(lines.length, records.length);
    assert.equal(JSON.parse(lines.at(-1) ?? "").id, records[0]?.id);
  });
});

describe("comparator: two links, and two replicas", () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack(LINKS);
  });
  after(() => stack.stop());

  it("with two links reports a disagreement as suspect on both and acts on neither", async () => {
    const c = await buildTestComparator(stack, { links: ["a", "b"] });
    try {
      await c.comparator.leader.start();
      const closedThrough = Date.now() - 60_000;
      await probe(stack, c, 6, (l) => ({
        closedThrough,
        digests: { "1000|gmv": l === "a" ? "d0" : "other" },
      }));
      assert.deepEqual(await linkStates(c), { a: "healthy", b: "healthy" });
      const suspects = (await audit(c)).filter((r) => r.kind === "suspect");
      assert.deepEqual(suspects.map((r) => r.link).sort(), ["a", "b"]);
      assert.equal((await readRouting(stack.consul))?.version, 1);
      assert.match(await metricsText(c), /oneservice_comparator_link_suspect\{[^}]*link="b"[^}]*\} 1/);
    } finally {
      await c.close();
      await stack.consul.kv.del({ key: "oneservice/", recurse: true });
    }
  });

  it("lets only the lock holder write; the other refuses operators and names the leader", async () => {
    const leader = await buildTestComparator(stack, { links: LINKS, env: { COMPARATOR_ID: "cmp-1" } });
    const follower = await buildTestComparator(stack, { links: LINKS, env: { COMPARATOR_ID: "cmp-2" } });
    try {
      await leader.comparator.leader.start();
      await follower.comparator.leader.start();
      assert.equal(leader.comparator.leader.isLeader, true);
      assert.equal(follower.comparator.leader.isLeader, false);
      for (let n = 0; n < 3; n++) {
        await probe(stack, leader, 1);
        await follower.comparator.tick();
      }
      for (let n = 0; n < 3; n++) {
        await probe(stack, leader, 1, (l) => (l === "a" ? STALE : {}));
        await follower.comparator.tick();
      }
      assert.equal((await linkStates(follower)).a, "down", "the follower judges too");
      const routing = await readRouting(stack.consul);
      assert.equal(routing?.version, 2);
      assert.equal(routing?.changedBy, "cmp-1");
      assert.equal((await audit(leader)).filter((r) => r.kind === "auto_failover").length, 1);
      assert.doesNotMatch(
        await metricsText(follower),
        /oneservice_comparator_decisions_total\{[^}]*\} [1-9]/,
      );

      const refused = await http(follower, "POST", "/v1/failover", {
        to: "c",
        reason: "drill",
        operator: "bob",
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.json.code, "not_leader");
      assert.equal(refused.json.leader.id, "cmp-1");
    } finally {
      await follower.close();
      await leader.close();
    }
  });
});
