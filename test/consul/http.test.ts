import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { indexOf, raw, useHarness } from "./helpers.ts";

// What the npm client hides: status codes, headers and exact bodies, checked over plain HTTP the way curl
// or another language's Consul client would see them.

describe("consul dev server: raw HTTP", () => {
  const h = useHarness();

  it("answers a missing key with 404, an empty body and the index headers, never index 0", async () => {
    const r = await raw(h.server, "GET", "/v1/kv/never/written");
    assert.equal(r.status, 404);
    assert.equal(r.text, "");
    assert.equal(r.headers.get("x-consul-index"), "1");
    assert.equal(r.headers.get("x-consul-knownleader"), "true");
    assert.equal(r.headers.get("x-consul-lastcontact"), "0");
    assert.equal(r.headers.get("x-consul-effective-consistency"), "leader");
  });

  it("takes the key from the URL-decoded path and the value as the raw body", async () => {
    assert.equal((await raw(h.server, "PUT", "/v1/kv/enc%2Fkey%20one", { body: "<&>" })).text, "true");
    const r = await raw(h.server, "GET", "/v1/kv/enc/key one");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/json");
    const [e] = JSON.parse(r.text);
    assert.equal(e.Key, "enc/key one");
    assert.equal(Buffer.from(e.Value, "base64").toString(), "<&>");
    assert.equal(indexOf(r), e.ModifyIndex);
    assert.deepEqual(Object.keys(e), ["LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"]);

    const plain = await raw(h.server, "GET", "/v1/kv/enc/key%20one?raw");
    assert.equal(plain.text, "<&>");
    assert.equal(plain.headers.get("content-type"), "text/plain");
    assert.equal(plain.headers.get("x-content-type-options"), "nosniff");
  });

  it("counts flags by presence and keeps uint64 flags exact", async () => {
    await raw(h.server, "PUT", "/v1/kv/p/one", { body: "1" });
    const recursed = await raw(h.server, "GET", "/v1/kv/p/?recurse=false");
    assert.equal(JSON.parse(recursed.text).length, 1);
    await raw(h.server, "PUT", "/v1/kv/p/big?flags=18446744073709551615", { body: "b" });
    assert.match((await raw(h.server, "GET", "/v1/kv/p/big")).text, /"Flags":18446744073709551615,/);
    const badFlags = await raw(h.server, "PUT", "/v1/kv/p/bad?flags=abc", { body: "b" });
    assert.equal(badFlags.status, 500);
    assert.match(badFlags.text, /invalid syntax/);
  });

  it("answers CAS with a bare true or false", async () => {
    assert.equal((await raw(h.server, "PUT", "/v1/kv/c?cas=0", { body: "1" })).text, "true");
    const lost = await raw(h.server, "PUT", "/v1/kv/c?cas=0", { body: "2" });
    assert.equal(lost.status, 200);
    assert.equal(lost.text, "false");
    assert.equal((await raw(h.server, "DELETE", "/v1/kv/c?cas=1")).text, "false");
    // Deleting what is already gone succeeds, as in Consul.
    assert.equal((await raw(h.server, "DELETE", "/v1/kv/absent?cas=5")).text, "true");
  });

  it("refuses conflicting flags with 400", async () => {
    const put = await raw(h.server, "PUT", "/v1/kv/f?cas=0&release=abc", { body: "x" });
    assert.equal(put.status, 400);
    assert.equal(put.text, "Conflicting flags: cas=0&release=abc\n");
    const del = await raw(h.server, "DELETE", "/v1/kv/f?recurse&cas=3");
    assert.equal(del.status, 400);
    assert.match(del.text, /^Conflicting flags: /);
  });

  it("takes a value of exactly 512 KB and refuses one byte more with 413", async () => {
    const max = 512 * 1024;
    assert.equal((await raw(h.server, "PUT", "/v1/kv/big", { body: Buffer.alloc(max, 97) })).text, "true");
    const tooBig = await raw(h.server, "PUT", "/v1/kv/big", { body: Buffer.alloc(max + 1, 98) });
    assert.equal(tooBig.status, 413);
    assert.match(tooBig.text, /Request body\(524289 bytes\) too large, max size: 524288 bytes/);
    const kept = await raw(h.server, "GET", "/v1/kv/big?raw");
    assert.equal(kept.text.length, max);
    assert.equal(kept.text[0], "a");
  });

  it("rejects missing keys, wrong methods and unknown datacenters", async () => {
    const get = await raw(h.server, "GET", "/v1/kv/");
    assert.equal(get.status, 400);
    assert.equal(get.text, "Missing key name");
    assert.equal((await raw(h.server, "PUT", "/v1/kv/", { body: "x" })).status, 400);
    const post = await raw(h.server, "POST", "/v1/kv/x", { body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "OPTIONS,GET,PUT,DELETE");
    assert.equal((await raw(h.server, "GET", "/v1/nothing/here")).status, 404);
    const dc = await raw(h.server, "GET", "/v1/kv/x?dc=dc9");
    assert.equal(dc.status, 500);
    assert.equal(dc.text, "No path to datacenter");
  });

  it("lists the root keys as [] when empty-handed but 404s an empty prefix", async () => {
    await raw(h.server, "DELETE", "/v1/kv/?recurse");
    const root = await raw(h.server, "GET", "/v1/kv/?keys");
    assert.equal(root.status, 200);
    assert.equal(root.text, "[]");
    assert.ok(indexOf(root) > 1);
    assert.equal((await raw(h.server, "GET", "/v1/kv/some/?keys")).status, 404);
  });

  it("serves the status and agent endpoints clients call at start", async () => {
    assert.deepEqual(JSON.parse((await raw(h.server, "GET", "/v1/status/peers")).text), ["127.0.0.1:8300"]);
    const self = JSON.parse((await raw(h.server, "GET", "/v1/agent/self")).text);
    assert.equal(self.Config.NodeName, "test-node");
    assert.equal(self.Config.Server, true);
    assert.equal(self.Member.Name, "test-node");
    assert.equal(self.Stats.raft.state, "Leader");
  });
});
