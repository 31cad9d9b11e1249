import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CONSUL_KEYS, type GatewayAck, type RoutingDocument } from "../../common/routing.ts";
import { type StartedGateway, useHarness, waitFor } from "./helpers.ts";

// Routing through Consul: the active link comes from oneservice/routing, is applied as soon as it changes,
// is acknowledged back, survives a Consul outage (in memory and on disk), and bad documents change nothing.

describe("gateway routing", () => {
  const h = useHarness(["a", "b"]);
  let gw: StartedGateway;

  const linkOf = async () => (await gw.get("/v1/metrics/gmv")).headers["x-oneservice-link"];
  const ack = async (gatewayId: string) => {
    const item = await h.consul.kv.get(CONSUL_KEYS.gatewayAcks + gatewayId);
    return item
      ? { ...(JSON.parse(item.Value ?? "") as GatewayAck), session: (item as { Session?: string }).Session }
      : null;
  };
  const routingStatus = async (g = gw) => (await g.admin("/admin/routing")).json();

  test("without a routing document in Consul it routes to the first link and writes no document", async () => {
    await h.setDay("a", "gmv", "all", "all", 100);
    await h.setDay("b", "gmv", "all", "all", 200);
    gw = await h.gateway({ CACHE_TTL: "1h", GATEWAY_ID: "gw-routing" });
    const res = await gw.get("/v1/metrics/gmv");
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["x-oneservice-link"], "a");
    assert.equal(res.headers["x-oneservice-routing-version"], "1");
    assert.equal(res.json().value, 100);
    assert.equal(await h.consul.kv.get(CONSUL_KEYS.routing), undefined);
    await waitFor("the acknowledgement of version 1", async () => (await ack("gw-routing"))?.version === 1);
    const acked = await ack("gw-routing");
    assert.equal(acked?.active, "a");
    assert.ok(acked?.session, "the acknowledgement is held by a session");
  });

  test("a new routing version switches reads at once, drops the cache and is acknowledged", async () => {
    // CACHE_TTL is an hour: only dropping the cache on the switch lets link b's value through.
    assert.equal((await gw.get("/v1/metrics/gmv")).json().value, 100);
    await h.publishRouting({ version: 2, active: "b", standby: ["a"] });
    await waitFor("reads from link b", async () => (await linkOf()) === "b");
    const res = await gw.get("/v1/metrics/gmv");
    assert.deepEqual(
      [res.json().value, res.json().link, res.headers["x-oneservice-routing-version"]],
      [200, "b", "2"],
    );
    await waitFor("the acknowledgement of version 2", async () => (await ack("gw-routing"))?.version === 2);
    assert.equal((await ack("gw-routing"))?.active, "b");
    assert.equal(await gw.metric("oneservice_gateway_routing_version"), 2);
    assert.equal(await gw.metric("oneservice_gateway_routing_switches_total"), 1);
    await waitFor("the local copy of version 2", async () => {
      const saved = JSON.parse(await readFile(join(h.dir, "routing-1.json"), "utf8")) as RoutingDocument;
      return saved.version === 2;
    });
  });

  test("the same document written again changes nothing", async () => {
    const current = (await routingStatus()).document as RoutingDocument;
    await h.consul.kv.set(CONSUL_KEYS.routing, JSON.stringify({ ...current }));
    await waitFor("the rewrite to be seen", async () => {
      return (
        (await gw.metric("oneservice_gateway_consul_documents_total", {
          result: "unchanged",
        })) >= 1
      );
    });
    assert.equal(await gw.metric("oneservice_gateway_routing_switches_total"), 1);
  });

  test("invalid documents are ignored, counted and logged; the last good one stays in force", async () => {
    const invalid = () =>
      gw.metric("oneservice_gateway_consul_documents_total", {
        key: "routing",
        result: "invalid",
      });
    await h.consul.kv.set(CONSUL_KEYS.routing, "{not json");
    await waitFor("the first invalid document", async () => (await invalid()) === 1);
    await h.publishRouting({ version: 3, active: "nowhere", standby: ["a"] });
    await waitFor("the second invalid document", async () => (await invalid()) === 2);
    await h.publishRouting({ version: 0, active: "a" });
    await waitFor("the third invalid document", async () => (await invalid()) === 3);
    assert.equal(await linkOf(), "b");
    assert.equal((await routingStatus()).document.version, 2);
    assert.ok(gw.logs.some((l) => l.level === 50 && String(l.msg).includes("INVALID routing document")));
  });

  test("Consul unreachable: the routing in force stays, and a gateway started meanwhile routes from its local copy", async () => {
    await h.publishRouting({ version: 4, active: "b", standby: ["a"] });
    await waitFor("version 4", async () => (await routingStatus()).document?.version === 4);
    await h.consulServer.close();
    await waitFor("the outage to be noticed", async () => (await routingStatus()).consulReachable === false);
    assert.equal(await linkOf(), "b");
    assert.equal(await gw.metric("oneservice_gateway_consul_reachable"), 0);

    // A restart during the outage: same local copy file, Consul still down.
    const restarted = await h.gateway({
      ROUTING_CACHE_FILE: join(h.dir, "routing-1.json"),
      GATEWAY_ID: "gw-restarted",
    });
    const res = await restarted.get("/v1/metrics/gmv");
    assert.equal(res.headers["x-oneservice-link"], "b");
    assert.equal(res.headers["x-oneservice-routing-version"], "4");
    assert.equal((await routingStatus(restarted)).source, "file");

    // Consul back: the same document is confirmed and acknowledged; a change is applied again.
    await h.restartConsul();
    await waitFor(
      "the restarted gateway's acknowledgement",
      async () => (await ack("gw-restarted"))?.version === 4,
    );
    await h.publishRouting({ version: 5, active: "a", standby: ["b"] });
    await waitFor("both gateways on link a", async () => {
      const links = await Promise.all(
        [gw, restarted].map(async (g) => (await g.get("/v1/metrics/gmv")).headers["x-oneservice-link"]),
      );
      return links.every((l) => l === "a");
    });
    assert.equal((await routingStatus(restarted)).source, "consul");
    assert.equal(await gw.metric("oneservice_gateway_consul_reachable"), 1);
  });

  test("a gateway that stops releases its session and with it its acknowledgement", async () => {
    await waitFor("the acknowledgement of version 5", async () => (await ack("gw-routing"))?.version === 5);
    await gw.app.close();
    assert.equal(await ack("gw-routing"), null);
  });
});
