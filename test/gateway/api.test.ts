import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { BusinessClock } from "../../common/businessTime.ts";
import {
  ADMIN_TOKEN,
  API_KEY,
  OTHER_KEY,
  type StartedGateway,
  TIME_ZONE,
  useHarness,
  waitFor,
} from "./helpers.ts";

// The HTTP contract: what each route answers, what it refuses and how, who may call, how often, and what
// each call leaves behind (log line, counters, OpenAPI).

describe("gateway API", () => {
  const h = useHarness(["a"]);
  let gw: StartedGateway;
  const clock = new BusinessClock(TIME_ZONE);

  before(async () => {
    await h.setDay("a", "gmv", "all", "all", 123_456);
    await h.setDay("a", "paid_orders", "all", "all", 40);
    await h.setDay("a", "ad_clicks", "all", "all", 5);
    await h.setDay("a", "ad_impressions", "all", "all", 200);
    for (const [seller, gmv] of [
      ["s1", 300],
      ["s2", 900],
      ["s3", 600],
    ] as const) {
      await h.setDay("a", "gmv", "seller", seller, gmv);
    }
    gw = await h.gateway({ CACHE_TTL: "1h", RATE_LIMIT_PER_SECOND: "1000", BODY_LIMIT: "1024" });
  });

  test("GET /v1/metrics/:metric answers the day value with the link, routing version and watermark", async () => {
    const watermark = Date.parse("2024-11-11T03:04:05.000Z");
    await h.setWatermark("a", watermark);
    // Each try asks for another key: a cached answer keeps the watermark it was read with.
    let attempt = 0;
    await waitFor("the watermark to be read", async () => {
      attempt += 1;
      return (await gw.get(`/v1/metrics/paid_orders?dim=seller&key=probe${attempt}`)).json().asOf !== null;
    });
    const res = await gw.get("/v1/metrics/gmv");
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["x-oneservice-link"], "a");
    assert.equal(res.headers["x-oneservice-routing-version"], "1");
    assert.deepEqual(res.json(), {
      metric: "gmv",
      dim: "all",
      key: "all",
      window: "day",
      date: h.today(),
      value: 123_456,
      asOf: new Date(watermark).toISOString(),
      link: "a",
      stale: false,
      complete: true,
      staleSince: null,
    });
  });

  test("ratios are derived at read time", async () => {
    assert.equal((await gw.get("/v1/metrics/ctr")).json().value, 5 / 200);
    assert.equal((await gw.get("/v1/metrics/avg_order_value")).json().value, 123_456 / 40);
    const noImpressions = await gw.get("/v1/metrics/ctr?dim=advertiser&key=adv9");
    assert.equal(noImpressions.json().value, null);
  });

  test("top lists are ranked and cut at n", async () => {
    const res = await gw.get("/v1/metrics/gmv/top?dim=seller&n=2");
    assert.equal(res.headers["x-oneservice-link"], "a");
    assert.deepEqual(res.json().entries, [
      { key: "s2", value: 900 },
      { key: "s3", value: 600 },
    ]);
  });

  test("minute values and minute series", async () => {
    const t = Math.floor(h.clock.now / 60_000) * 60_000 - 5 * 60_000;
    const b = clock.bucket(t);
    await h.setMinute("a", t, "gmv", 777);
    const one = await gw.get(`/v1/metrics/gmv?window=minute&date=${b.date}&minute=${b.minute}`);
    assert.equal(one.json().value, 777);
    assert.equal(one.json().minute, b.minute);

    const from = new Date(t - 60_000).toISOString();
    const to = new Date(t + 60_000).toISOString();
    const series = await gw.get(`/v1/metrics/gmv/series?from=${from}&to=${to}`);
    assert.equal(series.statusCode, 200);
    assert.deepEqual(
      series.json().points.map((p: { t: number; value: number }) => [p.t, p.value]),
      [
        [t - 60_000, 0],
        [t, 777],
        [t + 60_000, 0],
      ],
    );
    const lastHour = (await gw.get("/v1/metrics/gmv/series")).json();
    assert.equal(lastHour.points.length, 60);
    assert.ok(lastHour.points.some((p: { value: number }) => p.value === 777));
  });

  test("POST /v1/query answers every read from one link", async () => {
    const res = await gw.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: { "x-api-key": API_KEY },
      payload: {
        reads: [{ metric: "gmv" }, { metric: "gmv", dim: "seller", key: "s1" }, { metric: "ctr" }],
      },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.link, "a");
    assert.equal(res.headers["x-oneservice-link"], "a");
    assert.deepEqual(
      body.results.map((r: { metric: string; key: string; value: number }) => [r.metric, r.key, r.value]),
      [
        ["gmv", "all", 123_456],
        ["gmv", "s1", 300],
        ["ctr", "all", 5 / 200],
      ],
    );
  });

  test("GET /v1/catalog lists metrics, dimensions and windows", async () => {
    const body = (await gw.get("/v1/catalog")).json();
    const gmv = body.metrics.find((m: { name: string }) => m.name === "gmv");
    assert.deepEqual(
      [gmv.cumulative, gmv.dims.includes("seller"), gmv.minuteDims],
      [true, true, ["all", "industry"]],
    );
    const ctr = body.metrics.find((m: { name: string }) => m.name === "ctr");
    assert.deepEqual(
      [ctr.kind, ctr.derivedFrom, ctr.dims],
      ["ratio", ["ad_clicks", "ad_impressions"], ["all", "advertiser"]],
    );
    assert.deepEqual(
      body.windows.map((w: { name: string }) => w.name),
      ["day", "minute"],
    );
    assert.ok(body.dimensions.some((d: { name: string }) => d.name === "advertiser"));
  });

  test("the micro-cache answers a hot key again without a link read", async () => {
    const misses = await gw.metric("oneservice_gateway_cache_misses_total");
    const hits = await gw.metric("oneservice_gateway_cache_hits_total");
    await h.setDay("a", "gmv", "all", "all", 999_999);
    assert.equal((await gw.get("/v1/metrics/gmv")).json().value, 123_456);
    assert.equal(await gw.metric("oneservice_gateway_cache_misses_total"), misses);
    assert.equal(await gw.metric("oneservice_gateway_cache_hits_total"), hits + 1);
  });

  test("bad parameters are refused with the field named, and nothing reaches a link", async () => {
    const misses = await gw.metric("oneservice_gateway_cache_misses_total");
    const cases: [string, number, string][] = [
      ["/v1/metrics/gmv/top?dim=seller&n=0", 400, "n"],
      ["/v1/metrics/gmv/top?dim=seller&n=ten", 400, "n"],
      ["/v1/metrics/gmv/top?n=3", 400, "dim"],
      ["/v1/metrics/gmv/top?dim=seller&n=1&n=2", 400, "n"],
      ["/v1/metrics/gmv?dim=seller&key=a%20b", 400, "key"],
      ["/v1/metrics/gmv?dim=seller&key=os:d:*", 400, "key"],
      [`/v1/metrics/gmv?dim=seller&key=${"x".repeat(65)}`, 400, "key"],
      ["/v1/metrics/gmv?key=s1", 400, "key"],
      ["/v1/metrics/gmv?date=2024-02-30", 400, "date"],
      ["/v1/metrics/gmv?date=yesterday", 400, "date"],
      ["/v1/metrics/gmv?window=week", 400, "window"],
      [`/v1/metrics/gmv?window=minute&date=${h.today()}`, 400, "minute"],
      ["/v1/metrics/gmv?date=2024-11-11", 400, "date"],
      ["/v1/metrics/gmv?minute=1200", 400, "minute"],
      ["/v1/metrics/gmv?dim=Seller", 400, "dim"],
      ["/v1/metrics/gmv?limit=5", 400, "limit"],
      ["/v1/metrics/GMV", 400, "metric"],
      ["/v1/metrics/gmv/series?from=2024-11-11T10:00:00Z&to=2024-11-11T09:00:00Z", 400, "from"],
      ["/v1/metrics/gmv/series?from=2024-11-01T00:00:00Z&to=2024-11-11T00:00:00Z", 400, "from"],
      ["/v1/metrics/gmv/series?from=noon", 400, "from"],
      ["/v1/metrics/ctr/top?dim=advertiser", 400, "metric"],
      ["/v1/metrics/gmv_total", 404, "metric"],
      ["/v1/metrics/gmv?dim=planet&key=earth", 404, "dim"],
      ["/v1/metrics/gmv?dim=advertiser&key=adv1", 404, "dim"],
      ["/v1/metrics/gmv/series?dim=seller&key=s1", 404, "dim"],
    ];
    for (const [url, status, field] of cases) {
      const res = await gw.get(url);
      assert.equal(res.statusCode, status, `${url}: ${res.body}`);
      assert.equal(res.json().field, field, url);
      assert.equal(res.json().statusCode, status, url);
      assert.ok(res.json().message.length > 0, url);
    }
    assert.equal((await gw.get("/v1/nothing-here")).statusCode, 404);
    assert.equal(await gw.metric("oneservice_gateway_cache_misses_total"), misses);
  });

  test("bad bodies: too large 413, not JSON 400, unknown type 415, too many reads 400", async () => {
    const post = (payload: string, contentType = "application/json") =>
      gw.app.inject({
        method: "POST",
        url: "/v1/query",
        headers: { "x-api-key": API_KEY, "content-type": contentType },
        payload,
      });
    const big = JSON.stringify({ reads: Array.from({ length: 40 }, () => ({ metric: "gmv", dim: "all" })) });
    assert.ok(big.length > 1024);
    assert.equal((await post(big)).statusCode, 413);
    assert.equal((await post("{reads:")).statusCode, 400);
    assert.equal((await post("<reads/>", "application/xml")).statusCode, 415);
    assert.equal((await post("reads=gmv", "text/plain")).statusCode, 400);
    assert.equal((await post('{"__proto__": {"reads": []}}')).statusCode, 400);
    const tooMany = JSON.stringify({ reads: Array.from({ length: 51 }, () => ({ metric: "gmv" })) });
    assert.ok(tooMany.length < 1024);
    const many = await post(tooMany);
    assert.deepEqual([many.statusCode, many.json().field], [400, "reads"]);
    const empty = await post(JSON.stringify({ reads: [] }));
    assert.deepEqual([empty.statusCode, empty.json().field], [400, "reads"]);
    const unknown = await post(JSON.stringify({ reads: [{ metric: "gmv" }, { metric: "nope" }] }));
    assert.deepEqual([unknown.statusCode, unknown.json().field], [404, "reads.1.metric"]);
  });

  test("callers need a known API key; admin routes need the admin token", async () => {
    const noKey = await gw.app.inject("/v1/metrics/gmv");
    assert.deepEqual([noKey.statusCode, noKey.json().field], [401, "x-api-key"]);
    assert.equal((await gw.get("/v1/metrics/gmv", "not-a-real-key")).statusCode, 403);
    assert.equal((await gw.get("/v1/metrics/gmv", OTHER_KEY)).statusCode, 200);
    assert.equal((await gw.get("/v1/metrics/gmv", ADMIN_TOKEN)).statusCode, 403);

    assert.equal((await gw.app.inject("/admin/routing")).statusCode, 401);
    const wrong = await gw.app.inject({ url: "/admin/routing", headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.statusCode, 403);
    const asCaller = await gw.app.inject({ url: "/admin/routing", headers: { "x-api-key": API_KEY } });
    assert.equal(asCaller.statusCode, 401);
    const routing = (await gw.admin("/admin/routing")).json();
    assert.deepEqual(
      [routing.document.active, routing.source, routing.gatewayId],
      ["a", "initial", "test-gateway-1"],
    );
    const links = (await gw.admin("/admin/links")).json().links;
    assert.deepEqual(
      links.map((l: { id: string; connected: boolean; role: string }) => [l.id, l.connected, l.role]),
      [["a", true, "active"]],
    );
    const cache = (await gw.admin("/admin/cache")).json();
    assert.ok(cache.microCache.hits >= 1 && cache.microCache.entries >= 1 && cache.noDip.entries >= 1);
  });

  test("per-application rate limits answer 429 with Retry-After", async () => {
    const limited = await h.gateway({ RATE_LIMIT_PER_SECOND: "3" });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await limited.get("/v1/catalog")).statusCode);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const refused = await limited.get("/v1/catalog");
    assert.equal(refused.headers["retry-after"], "1");
    assert.equal(refused.json().statusCode, 429);
    assert.equal(
      (await limited.get("/v1/catalog", OTHER_KEY)).statusCode,
      200,
      "another application has its own limit",
    );
    assert.equal(await limited.metric("oneservice_gateway_rate_limited_total", { app: "screen" }), 2);
    h.clock.now += 1_000;
    assert.equal((await limited.get("/v1/catalog")).statusCode, 200);
  });

  test("every call leaves one log line and its counters", async () => {
    const before = gw.logs.length;
    await gw.get("/v1/metrics/gmv", OTHER_KEY);
    const lines = gw.logs.slice(before).filter((l) => l.msg === "call");
    assert.equal(lines.length, 1);
    const line = lines[0] as Record<string, unknown>;
    assert.deepEqual(
      [line.app, line.route, line.metric, line.link, line.status],
      ["partner", "/v1/metrics/:metric", "gmv", "a", 200],
    );
    assert.equal(typeof line.ms, "number");
    assert.equal(line.path, "/v1/metrics/gmv");
    assert.equal(line.method, "GET");
    assert.equal(line.body, undefined);

    const text = (await gw.app.inject("/metrics")).body;
    assert.match(
      text,
      /oneservice_gateway_requests_total\{app="partner",route="\/v1\/metrics\/:metric",status="200"/,
    );
    assert.match(
      text,
      /oneservice_gateway_request_seconds_bucket\{le="[^"]+",app="partner",route="\/v1\/metrics\/:metric"/,
    );
    assert.match(text, /oneservice_gateway_link_up\{link="a"\} 1/);
    assert.match(text, /oneservice_gateway_routing_version 1/);
  });

  test("the call log carries what a replay needs, the POST body and the query, and never a key", async () => {
    const before = gw.logs.length;
    const reads = { reads: [{ metric: "gmv" }, { metric: "buyers", dim: "industry", key: "beauty" }] };
    const post = await gw.app.inject({
      method: "POST",
      url: "/v1/query",
      headers: { "x-api-key": OTHER_KEY },
      payload: reads,
    });
    assert.equal(post.statusCode, 200);
    await gw.get(`/v1/metrics/gmv?dim=seller&key=s-1&api_key=${API_KEY}`, OTHER_KEY);
    const lines = gw.logs.slice(before).filter((l) => l.msg === "call");
    assert.deepEqual(
      lines.map((l) => [l.app, l.method, l.path, l.body]),
      [
        ["partner", "POST", "/v1/query", JSON.stringify(reads)],
        ["partner", "GET", "/v1/metrics/gmv?dim=seller&key=s-1&api_key=***", undefined],
      ],
    );
    const text = JSON.stringify(gw.logs.slice(before));
    for (const secret of [API_KEY, OTHER_KEY, ADMIN_TOKEN])
      assert.ok(!text.includes(secret), `${secret} logged`);
  });

  test("the OpenAPI document is generated from the route schemas", async () => {
    const doc = (await gw.app.inject("/docs/openapi.json")).json();
    assert.equal(doc.openapi, "3.0.3");
    for (const path of [
      "/v1/catalog",
      "/v1/metrics/{metric}",
      "/v1/metrics/{metric}/top",
      "/v1/metrics/{metric}/series",
      "/v1/query",
      "/v1/stream",
      "/admin/routing",
    ]) {
      assert.ok(doc.paths[path], path);
    }
    const top = doc.paths["/v1/metrics/{metric}/top"].get;
    const n = top.parameters.find((p: { name: string }) => p.name === "n");
    assert.deepEqual([n.in, n.schema.maximum], ["query", 100]);
    assert.ok(top.parameters.find((p: { name: string }) => p.name === "dim").required);
    assert.ok(doc.paths["/v1/query"].post.requestBody);
    assert.ok(
      doc.paths["/v1/metrics/{metric}"].get.responses["200"].content["application/json"].schema.properties
        .stale,
    );
    assert.deepEqual(doc.paths["/v1/stream"].get.security, [{ apiKey: [] }]);
    const page = await gw.app.inject("/docs");
    assert.match(String(page.headers["content-type"]), /text\/html/);
    assert.match(page.body, /\/v1\/metrics\/\{metric\}\/series/);
  });
});
