import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Registry } from "prom-client";
import { ConfigError } from "../../common/config.ts";
import { RateLimiter } from "../../gateway/auth.ts";
import { LastKnown, MicroCache } from "../../gateway/cache.ts";
import { loadGatewayConfig } from "../../gateway/config.ts";
import { gatewayMetrics } from "../../gateway/metrics.ts";
import { NoDipGuard } from "../../gateway/noDip.ts";
import { metricValue } from "./helpers.ts";

// The gateway's building blocks on their own, where timing and interleaving can be controlled exactly.

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("micro-cache", () => {
  const setup = (ttlMs: number) => {
    const registry = new Registry();
    const metrics = gatewayMetrics(registry, ["a"]);
    return { registry, cache: new MicroCache<{ v: number }>(ttlMs, 100, metrics) };
  };

  test("identical reads in flight share one link read", async () => {
    const { registry, cache } = setup(60_000);
    const read = deferred<{ v: number }>();
    let loads = 0;
    const load = () => {
      loads += 1;
      return read.promise;
    };
    const waiting = [
      cache.get("screen", "k", load),
      cache.get("screen", "k", load),
      cache.get("screen", "k", load),
    ];
    read.resolve({ v: 1 });
    assert.deepEqual(await Promise.all(waiting), [{ v: 1 }, { v: 1 }, { v: 1 }]);
    assert.deepEqual(await cache.get("screen", "k", load), { v: 1 });
    assert.equal(loads, 1);
    assert.equal(await metricValue(registry, "oneservice_gateway_cache_misses_total"), 1);
    assert.equal(await metricValue(registry, "oneservice_gateway_cache_coalesced_total"), 2);
    assert.equal(await metricValue(registry, "oneservice_gateway_cache_hits_total"), 1);
  });

  test("a failed read is not kept, and a read started before a clear is not stored after it", async () => {
    const { cache } = setup(60_000);
    await assert.rejects(cache.get("screen", "k", () => Promise.reject(new Error("link down"))));
    assert.deepEqual(await cache.get("screen", "k", async () => ({ v: 2 })), { v: 2 });

    const before = deferred<{ v: number }>();
    const old = cache.get("screen", "x", () => before.promise);
    cache.clear();
    const fresh = cache.get("screen", "x", async () => ({ v: 20 }));
    before.resolve({ v: 10 });
    assert.deepEqual([await old, await fresh], [{ v: 10 }, { v: 20 }]);
    assert.deepEqual(await cache.get("screen", "x", async () => ({ v: 30 })), { v: 20 });
  });

  test("with a TTL of 0 reads still coalesce but nothing is kept", async () => {
    const { cache } = setup(0);
    const read = deferred<{ v: number }>();
    const both = [
      cache.get("screen", "k", () => read.promise),
      cache.get("screen", "k", async () => ({ v: 99 })),
    ];
    read.resolve({ v: 1 });
    assert.deepEqual(await Promise.all(both), [{ v: 1 }, { v: 1 }]);
    assert.deepEqual(await cache.get("screen", "k", async () => ({ v: 2 })), { v: 2 });
  });
});

describe("last-known values", () => {
  test("are recalled only while young enough", () => {
    let now = 1_000;
    const known = new LastKnown<{ v: number }>(10, () => now);
    known.remember("screen", "k", { v: 1 });
    now += 5_000;
    assert.deepEqual(known.recall("screen", "k", 5_000), { v: 1 });
    now += 1;
    assert.equal(known.recall("screen", "k", 5_000), undefined);
  });
});

describe("no-dip guard", () => {
  const a = (asOf: number) => ({ link: "a", asOf });
  const raised = (value: number) => ({ value, raised: true, behind: true });
  const kept = (value: number) => ({ value, raised: false, behind: false });

  test("never serves less than the highest value served for a metric, key and day", () => {
    const guard = new NoDipGuard(100);
    const b = { link: "b", asOf: 10 };
    assert.deepEqual(guard.guard("screen", "gmv", "all", "all", "2024-11-11", 100, a(10)), kept(100));
    assert.deepEqual(guard.guard("screen", "gmv", "all", "all", "2024-11-11", 90, b), raised(100));
    assert.deepEqual(guard.guard("screen", "gmv", "all", "all", "2024-11-12", 90, b), kept(90));
    assert.deepEqual(guard.guard("screen", "gmv", "seller", "all", "2024-11-11", 90, b), kept(90));
    assert.deepEqual(guard.guard("screen", "gmv", "all", "all", "2024-11-11", 120, a(20)), kept(120));
    assert.deepEqual(guard.guard("screen", "gmv", "all", "all", "2024-11-11", 110, a(30)), raised(120));
  });

  test("an older view of the same link is raised but not behind: the link holds the higher value", () => {
    const guard = new NoDipGuard(100);
    // A top list read at watermark 20, then the key's value read (and cached) at watermark 10 served again.
    assert.deepEqual(guard.guard("screen", "gmv", "seller", "s1", "d", 500, a(20)), kept(500));
    assert.deepEqual(guard.guard("screen", "gmv", "seller", "s1", "d", 450, a(10)), {
      value: 500,
      raised: true,
      behind: false,
    });
    assert.deepEqual(guard.guard("screen", "gmv", "seller", "s1", "d", 450, a(20)), {
      value: 500,
      raised: true,
      behind: false,
    });
    // The same link lower at a later watermark, or another link lower, is behind.
    assert.deepEqual(guard.guard("screen", "gmv", "seller", "s1", "d", 450, a(21)), raised(500));
    assert.deepEqual(
      guard.guard("screen", "gmv", "seller", "s1", "d", 450, { link: "b", asOf: 5 }),
      raised(500),
    );
  });

  test("zero (what an absent key reads as) is never remembered", () => {
    const guard = new NoDipGuard(100);
    for (let i = 0; i < 50; i++) guard.guard("screen", "gmv", "seller", `absent-${i}`, "d", 0, a(1));
    assert.equal(guard.size, 0);
  });

  test("memory is bounded: the least recently served entry is forgotten first", () => {
    const guard = new NoDipGuard(2);
    guard.guard("screen", "gmv", "seller", "s1", "d", 10, a(1));
    guard.guard("screen", "gmv", "seller", "s2", "d", 10, a(1));
    guard.guard("screen", "gmv", "seller", "s1", "d", 10, a(1));
    guard.guard("screen", "gmv", "seller", "s3", "d", 10, a(1));
    assert.equal(guard.size, 2);
    assert.equal(guard.guard("screen", "gmv", "seller", "s1", "d", 5, a(2)).raised, true);
    assert.equal(guard.guard("screen", "gmv", "seller", "s2", "d", 5, a(2)).raised, false);
  });
});

describe("rate limiter", () => {
  test("allows a second's worth at once, then one request per 1/rate seconds", () => {
    let now = 0;
    const limiter = new RateLimiter(2, () => now);
    assert.deepEqual([limiter.take("x"), limiter.take("x"), limiter.take("x")], [0, 0, 1]);
    assert.equal(limiter.take("y"), 0);
    now += 500;
    assert.deepEqual([limiter.take("x"), limiter.take("x")], [0, 1]);
    assert.equal(new RateLimiter(0, () => now).take("x"), 0, "0 means no limit");
  });
});

describe("gateway configuration", () => {
  const base = {
    REDIS_URL_A: "redis://127.0.0.1:1",
    REDIS_URL_B: "redis://127.0.0.1:2",
    REDIS_URL_C: "redis://127.0.0.1:3",
  };

  test("defaults work on one machine", () => {
    const config = loadGatewayConfig(base);
    assert.equal(config.port, 8080);
    assert.deepEqual(config.consul, { host: "127.0.0.1", port: 8500, secure: false });
    assert.deepEqual(config.apiKeys, { screen: "dev-api-key" });
    assert.equal(config.readTimeoutMs, 150);
    assert.match(config.gatewayId, /-8080$/);
    assert.equal(config.routingCacheFile, `.devstack/gateway-${config.gatewayId}-routing.json`);
    assert.deepEqual(
      config.linkAddresses.map((l) => l.id),
      ["a", "b", "c"],
    );
  });

  test("API keys, Consul address and durations are parsed", () => {
    const config = loadGatewayConfig({
      ...base,
      API_KEYS: "screen=dev-key1, partner=key2-long",
      CONSUL_HTTP_ADDR: "https://consul.internal:8501",
      CACHE_TTL: "1s",
      STALE_SERVE_MAX: "2m",
    });
    assert.deepEqual(config.apiKeys, { screen: "dev-key1", partner: "key2-long" });
    assert.deepEqual(config.consul, { host: "consul.internal", port: 8501, secure: true });
    assert.deepEqual([config.cacheTtlMs, config.staleServeMaxMs], [1_000, 120_000]);
  });

  test("bad values are refused with the variable named", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadGatewayConfig({ ...base, ...env });
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      return "";
    };
    assert.match(problems({ API_KEYS: "screen" }), /API_KEYS/);
    assert.match(problems({ API_KEYS: "a=samekey1,b=samekey1" }), /API_KEYS.*another application's key/);
    assert.match(problems({ CONSUL_HTTP_ADDR: "consul" }), /CONSUL_HTTP_ADDR/);
    assert.match(problems({ READ_TIMEOUT: "soon" }), /READ_TIMEOUT/);
    assert.match(problems({ TIME_ZONE: "Mars/Olympus" }), /TIME_ZONE/);
    assert.match(problems({ LINKS: "a,a" }), /LINKS/);
    assert.match(problems({ LINKS: "a,d" }), /REDIS_URL_D/);
  });
});
