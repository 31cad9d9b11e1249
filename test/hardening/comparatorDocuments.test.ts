import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadConfig } from "../../common/config.ts";
import { consulClient, consulSettings } from "../../common/consul.ts";
import { createLogger } from "../../common/logger.ts";
import { CONSUL_KEYS, initialRouting } from "../../common/routing.ts";
import { AuditLog } from "../../comparator/audit.ts";
import { http, metricsText, readRouting, useFreshComparator } from "../comparator/harness.ts";

// Bad documents in Consul, as a clumsy operator or a broken tool leaves them: the comparator's answers stay
// 200 (or the right 4xx), bad audit entries are skipped and counted, an unusable routing document can be
// replaced through the API (audited), and the trail is read a page at a time and pruned to its retention.

const LINKS = ["a", "b", "c"];

describe("hardening: documents the comparator reads from Consul", () => {
  const h = useFreshComparator(LINKS, { AUDIT_RETENTION: "100" });

  it("answers GET /v1/routing with the problem for every kind of unusable document, never a 500", async () => {
    const good = initialRouting(LINKS, "test");
    const bad: [unknown, RegExp][] = [
      [{ ...good, reason: undefined }, /reason/],
      [{ ...good, changedAt: "yesterday" }, /changedAt/],
      [{ ...good, changedBy: 7 }, /changedBy/],
      [{ ...good, changedBy: "" }, /changedBy/],
      [{ ...good, standby: ["a", "b"] }, /standby/],
      [{ ...good, standby: ["b", "b"] }, /standby/],
      [{ ...good, reason: "x".repeat(5_000) }, /reason/],
      [JSON.stringify({ ...good, version: 1 }).replace('"version":1', '"version":1e400'), /version/],
      [[good], /object/],
      ["not json", /JSON/],
      ["", /JSON/],
    ];
    for (const [doc, problem] of bad) {
      await h.stack.consul.kv.set(CONSUL_KEYS.routing, typeof doc === "string" ? doc : JSON.stringify(doc));
      await h.c.comparator.tick();
      const { status, json } = await http(h.c, "GET", "/v1/routing");
      assert.equal(status, 200);
      assert.equal(json.routing, null);
      assert.match(json.problem, problem);
    }
  });

  it("lets an operator replace an unusable document through the API, above every version in force, audited", async () => {
    await h.stack.consul.kv.set(CONSUL_KEYS.routing, JSON.stringify({ version: 57, active: "zz" }));
    await h.c.comparator.tick();
    const failover = await http(h.c, "POST", "/v1/failover", {
      to: "b",
      reason: "repair",
      operator: "alice",
    });
    assert.equal(failover.status, 503);
    assert.match(failover.json.message, /\/v1\/routing\/replace/);

    const repair = { to: "b", reason: "repair", operator: "alice" };
    assert.equal((await http(h.c, "POST", "/v1/routing/replace", repair, null)).status, 401);
    assert.equal((await http(h.c, "POST", "/v1/routing/replace", repair, "wrong-token")).status, 403);

    const { status, json } = await http(h.c, "POST", "/v1/routing/replace", {
      to: "b",
      reason: "the document was broken by hand",
      operator: "alice",
    });
    assert.equal(status, 200);
    assert.equal(json.routing.version, 58);
    assert.equal(json.routing.active, "b");
    assert.equal(json.routing.mode, "auto");
    assert.deepEqual(json.routing.standby, ["a", "c"]);
    assert.equal(json.audit.kind, "routing_replaced");
    assert.equal(json.audit.evidence.previous.versionSeen, 57);
    assert.deepEqual(await readRouting(h.stack.consul), json.routing);
    // Written in the same transaction as the change.
    assert.ok(await h.stack.consul.kv.get(`${CONSUL_KEYS.audit}${json.audit.id}`));

    const again = await http(h.c, "POST", "/v1/routing/replace", {
      to: "a",
      reason: "again",
      operator: "alice",
    });
    assert.equal(again.status, 409);
    assert.equal(again.json.code, "routing_usable");
  });

  it("recreates a lost routing document above every version the gateways acknowledge", async () => {
    const ack = { gatewayId: "gw-9", version: 9, appliedAt: new Date().toISOString(), active: "b" };
    await h.stack.consul.kv.set(`${CONSUL_KEYS.gatewayAcks}gw-9`, JSON.stringify(ack));
    await h.stack.consul.kv.del(CONSUL_KEYS.routing);
    await h.c.comparator.tick();
    assert.equal((await readRouting(h.stack.consul))?.version, 10);
  });

  it("skips and counts malformed audit entries instead of failing GET /v1/audit", async () => {
    const prefix = CONSUL_KEYS.audit;
    await h.stack.consul.kv.set(`${prefix}999999999999999-x-000001`, "{not json");
    await h.stack.consul.kv.set(`${prefix}999999999999998-x-000001`, JSON.stringify({ id: 1 }));
    await h.stack.consul.kv.set(
      `${prefix}999999999999997-x-000001`,
      JSON.stringify({
        id: "999999999999997-x-000002",
        at: new Date().toISOString(),
        kind: "pin",
        by: "x",
        reason: "",
        evidence: {},
      }),
    );
    await h.stack.consul.kv.set(`${prefix}999999999999996-x-000001`, "");
    const { status, json } = await http(h.c, "GET", "/v1/audit?limit=10");
    assert.equal(status, 200);
    assert.equal(json.source, "consul");
    assert.equal(json.skipped, 4);
    assert.ok(json.records.length > 0);
    assert.ok(json.records.every((r: { kind: string }) => r.kind !== "pin"));
    assert.match(
      await metricsText(h.c),
      /oneservice_comparator_audit_skipped_total\{[^}]*source="consul"[^}]*\} 4\n/,
    );
  });

  it("pages through the trail with before/next and prunes it to AUDIT_RETENTION", async () => {
    for (let i = 0; i < 150; i++)
      await h.c.comparator.audit.record({ kind: "suspect", by: "test", reason: `r${i}`, evidence: {} });
    const seen: string[] = [];
    let before: string | null = null;
    do {
      const query: string = before ? `&before=${before}` : "";
      const { status, json } = await http(h.c, "GET", `/v1/audit?limit=40${query}`);
      assert.equal(status, 200);
      assert.ok(json.records.length <= 40);
      seen.push(...json.records.map((r: { id: string }) => r.id));
      before = json.next;
    } while (before !== null);
    assert.equal(new Set(seen).size, seen.length, "no record on two pages");
    assert.deepEqual(seen, [...seen].sort().reverse(), "newest first across pages");
    assert.ok(seen.length >= 150);

    assert.equal(await h.c.comparator.audit.prune(100), seen.length - 100);
    const keys = (await h.stack.consul.kv.keys(CONSUL_KEYS.audit)) as string[];
    assert.equal(keys.length, 100);
    const newest = (await http(h.c, "GET", "/v1/audit?limit=1")).json.records[0].id;
    assert.equal(newest, seen[0], "pruning deletes the oldest");
  });
});

describe("hardening: the local audit file", () => {
  it("keeps at most twice AUDIT_RETENTION records on disk and still serves the newest when Consul is down", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "audit-")), "audit.jsonl");
    let consulErrors = 0;
    // Port 1 refuses connections: every Consul write and read fails, as when Consul is unreachable.
    const audit = new AuditLog(
      consulClient(loadConfig(consulSettings, { CONSUL_HTTP_ADDR: "127.0.0.1:1" })),
      file,
      "t",
      createLogger("test"),
      () => consulErrors++,
      () => {},
      10,
    );
    const written = [];
    for (let i = 0; i < 25; i++)
      written.push(await audit.record({ kind: "suspect", by: "test", reason: `r${i}`, evidence: {} }));
    const lines = async (path: string) => (await readFile(path, "utf8")).trim().split("\n").length;
    assert.equal(await lines(`${file}.1`), 10, "the rotated file holds one generation");
    assert.equal(await lines(file), 5);
    assert.ok(consulErrors >= 25, "every Consul write failed and was counted");

    const page = await audit.list(100);
    assert.equal(page.source, "file");
    assert.deepEqual(
      page.records.map((r) => r.reason),
      written
        .slice(10)
        .reverse()
        .map((r) => r.reason),
      "the newest records of both files, newest first",
    );
  });
});
