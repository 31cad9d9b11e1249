import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../common/config.ts";
import { loadComparatorConfig } from "../../comparator/config.ts";
import { loadGatewayConfig } from "../../gateway/config.ts";
import { http, useFreshComparator } from "../comparator/harness.ts";
import { ADMIN_TOKEN, API_KEY, useHarness } from "../gateway/helpers.ts";

// Credentials and authentication, as an attacker meets them: the development credentials are refused
// off loopback, both services refuse a wrong admin token with the same status and body, and failed
// attempts are throttled per client address without locking anyone else out.

const PUBLIC = "0.0.0.0";
const gatewayEnv = { LINKS: "a", REDIS_URL_A: "redis://127.0.0.1:1" };
const comparatorEnv = { LINKS: "a", KAFKA_BROKERS_A: "127.0.0.1:1", REDIS_URL_A: "redis://127.0.0.1:1" };

function refusedWith(load: () => unknown, ...names: string[]): void {
  assert.throws(load, (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    for (const name of names) assert.match(err.message, new RegExp(`${name} holds the development default`));
    return true;
  });
}

describe("hardening: development credentials off loopback", () => {
  it("the gateway refuses them on a public address unless DEV_MODE is set", () => {
    refusedWith(() => loadGatewayConfig({ ...gatewayEnv, GATEWAY_HOST: PUBLIC }), "ADMIN_TOKEN", "API_KEYS");
    refusedWith(
      () => loadGatewayConfig({ ...gatewayEnv, GATEWAY_HOST: PUBLIC, ADMIN_TOKEN: "a-real-token-1" }),
      "API_KEYS",
    );
    assert.doesNotThrow(() => loadGatewayConfig({ ...gatewayEnv, GATEWAY_HOST: PUBLIC, DEV_MODE: "true" }));
    assert.doesNotThrow(() => loadGatewayConfig({ ...gatewayEnv, GATEWAY_HOST: "127.0.0.1" }));
    assert.doesNotThrow(() =>
      loadGatewayConfig({
        ...gatewayEnv,
        GATEWAY_HOST: PUBLIC,
        ADMIN_TOKEN: "a-real-token-1",
        API_KEYS: "screen=a-real-key-1",
      }),
    );
  });

  it("the comparator refuses them on a public address unless DEV_MODE is set", () => {
    refusedWith(() => loadComparatorConfig({ ...comparatorEnv, COMPARATOR_HOST: "::" }), "ADMIN_TOKEN");
    assert.doesNotThrow(() =>
      loadComparatorConfig({ ...comparatorEnv, COMPARATOR_HOST: "::", DEV_MODE: "1" }),
    );
    assert.doesNotThrow(() => loadComparatorConfig({ ...comparatorEnv, COMPARATOR_HOST: "localhost" }));
    // The gateway's rule for the token is the comparator's too: one setting in common/.
    assert.throws(() => loadComparatorConfig({ ...comparatorEnv, ADMIN_TOKEN: "short" }), ConfigError);
  });
});

describe("hardening: admin authentication and its throttle", () => {
  const h = useHarness(["a"]);
  const c = useFreshComparator(["a", "b"], { AUTH_FAILURES_PER_MINUTE: "5" });

  it("answers a missing or wrong admin token with the same status and body in both services", async () => {
    const gw = await h.gateway({ AUTH_FAILURES_PER_MINUTE: "5" });
    const fromGateway = async (authorization?: string) => {
      const res = await gw.app.inject({
        url: "/admin/routing",
        headers: authorization ? { authorization } : {},
        remoteAddress: "10.0.0.9",
      });
      return { status: res.statusCode, body: res.json() };
    };
    const fromComparator = async (token: string | null) => {
      const { status, json } = await http(
        c.c,
        "POST",
        "/v1/failover",
        { to: "b", reason: "x", operator: "o" },
        token,
      );
      return { status, body: json };
    };
    assert.deepEqual(await fromGateway(), await fromComparator(null));
    assert.deepEqual(await fromGateway("Bearer wrong-token"), await fromComparator("wrong-token"));
    assert.deepEqual((await fromGateway("Bearer wrong-token")).body, {
      statusCode: 403,
      code: "credential_wrong",
      error: "Forbidden",
      message: "wrong admin token",
      field: "authorization",
    });
  });

  it("throttles an address after its failures with 429 and Retry-After, and only that address", async () => {
    const gw = await h.gateway({ AUTH_FAILURES_PER_MINUTE: "5" });
    const data = (key: string, remoteAddress: string) =>
      gw.app.inject({ url: "/v1/metrics/gmv", headers: { "x-api-key": key }, remoteAddress });
    for (let i = 0; i < 5; i++) assert.equal((await data(`wrong-key-${i}`, "10.1.1.1")).statusCode, 403);
    const throttled = await data("wrong-key-6", "10.1.1.1");
    assert.equal(throttled.statusCode, 429);
    assert.ok(Number(throttled.headers["retry-after"]) >= 1);
    assert.equal(throttled.json().field, "x-api-key");
    // The right key from the throttled address waits too: a guess that happens to be right learns nothing.
    assert.equal((await data(API_KEY, "10.1.1.1")).statusCode, 429);
    // Another address is not locked out.
    assert.equal((await data(API_KEY, "10.2.2.2")).statusCode, 200);
    // The admin routes share the address's count.
    const admin = await gw.app.inject({
      url: "/admin/routing",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      remoteAddress: "10.1.1.1",
    });
    assert.equal(admin.statusCode, 429);
    assert.equal(await gw.metric("oneservice_gateway_auth_failures_total", { status: "429" }), 3);

    // The comparator: 5 wrong tokens, then 429 for that address, while the loopback operator still works.
    const guess = () =>
      c.c.app.inject({
        method: "POST",
        url: "/v1/unpin",
        headers: { authorization: "Bearer wrong-token", "content-type": "application/json" },
        payload: JSON.stringify({ reason: "xyz", operator: "mallory" }),
        remoteAddress: "10.3.3.3",
      });
    for (let i = 0; i < 5; i++) assert.equal((await guess()).statusCode, 403);
    const blocked = await guess();
    assert.equal(blocked.statusCode, 429);
    assert.ok(Number(blocked.headers["retry-after"]) >= 1);
    const fine = await http(c.c, "POST", "/v1/unpin", { reason: "xyz", operator: "alice" });
    assert.equal(fine.status, 409, "authenticated (nothing to unpin)");
  });
});
