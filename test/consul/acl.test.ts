import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientFor, raw, useHarness } from "./helpers.ts";

const TOKEN = "2b7e1f1a-0c4e-4d7b-9a3e-6f1d2c3b4a59";

describe("consul dev server: ACL on", () => {
  const h = useHarness({ aclToken: TOKEN });

  it("serves a client that presents the management token", async () => {
    assert.equal(await h.consul.kv.set("secured", "yes"), true);
    assert.equal((await h.consul.kv.get("secured"))?.Value, "yes");
  });

  it("refuses a client without a token or with another one, with a text 403", async () => {
    const anonymous = clientFor(h.server);
    const stranger = clientFor(h.server, "not-the-token");
    try {
      await assert.rejects(anonymous.kv.get("secured"), (err: Error & { statusCode?: number }) => {
        assert.equal(err.statusCode, 403);
        assert.match(err.message, /(^|: )Permission denied$/);
        return true;
      });
      await assert.rejects(stranger.kv.set("secured", "no"), (err: Error & { statusCode?: number }) => {
        assert.equal(err.statusCode, 403);
        assert.match(err.message, /(^|: )ACL not found$/);
        return true;
      });
      await assert.rejects(anonymous.session.create({}), /Permission denied/);
    } finally {
      anonymous.destroy();
      stranger.destroy();
    }
    assert.equal((await h.consul.kv.get("secured"))?.Value, "yes");
  });

  it("takes the token from ?token, X-Consul-Token or Authorization: Bearer", async () => {
    assert.equal((await raw(h.server, "GET", `/v1/kv/secured?token=${TOKEN}`)).status, 200);
    assert.equal(
      (await raw(h.server, "GET", "/v1/kv/secured", { headers: { "X-Consul-Token": TOKEN } })).status,
      200,
    );
    const bearer = await raw(h.server, "GET", "/v1/kv/secured", {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(bearer.status, 200);
    const denied = await raw(h.server, "GET", "/v1/kv/secured", {
      headers: { Authorization: `Basic ${TOKEN}` },
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(denied.text, "Permission denied");
  });

  it("answers the status endpoints without a token, as Consul does", async () => {
    const leader = await raw(h.server, "GET", "/v1/status/leader");
    assert.equal(leader.status, 200);
    assert.equal(JSON.parse(leader.text), "127.0.0.1:8300");
    assert.equal((await raw(h.server, "GET", "/v1/agent/self")).status, 403);
  });
});

describe("consul dev server: ACL off", () => {
  const h = useHarness();

  it("serves everyone, whatever token they send", async () => {
    assert.equal((await raw(h.server, "PUT", "/v1/kv/open", { body: "1" })).text, "true");
    assert.equal((await raw(h.server, "GET", "/v1/kv/open?token=anything")).status, 200);
    const self = JSON.parse((await raw(h.server, "GET", "/v1/agent/self")).text);
    assert.equal(self.Config.Datacenter, "dc1");
    assert.equal(self.Member.Tags.acls, "0");
  });
});
