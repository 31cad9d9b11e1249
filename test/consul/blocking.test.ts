import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  blockingTimeoutMs,
  DEFAULT_WAIT_MS,
  MAX_WAIT_MS,
  parseQueryOptions,
} from "../../devstack/consul/blocking.ts";
import { parseGoDuration } from "../../devstack/consul/goDuration.ts";
import { indexOf, nextEvent, raw, stillPending, useHarness } from "./helpers.ts";

// Blocking queries: `consul.watch` as the gateway uses it, and the index rules behind it over raw HTTP.
// Nothing here asserts how fast a wake-up is, only that it happens after the write and carries its result.

interface KvItem {
  Value: string | null;
  ModifyIndex: number;
}

describe("consul dev server: blocking queries", () => {
  const h = useHarness();

  it("fires a consul.watch on a key after the key changes, with the new value", async () => {
    await h.consul.kv.set("routing", "v1");
    const watch = h.consul.watch({ method: h.consul.kv.get, options: { key: "routing", wait: "30s" } });
    try {
      await nextEvent<KvItem>(watch, "change", (d) => d?.Value === "v1");
      // The value written is the proof that the event followed the write.
      const changed = nextEvent<KvItem>(watch, "change", () => true);
      await h.consul.kv.set("routing", "v2");
      assert.equal((await changed).Value, "v2");

      const deleted = nextEvent<KvItem | undefined>(watch, "change", () => true);
      await h.consul.kv.del("routing");
      assert.equal(await deleted, undefined);
    } finally {
      watch.end();
    }
  });

  it("wakes a blocked GET when the key changes and answers with the write's index", async () => {
    await h.consul.kv.set("blocked", "old");
    const start = await raw(h.server, "GET", "/v1/kv/blocked");
    const at = indexOf(start);
    const pending = raw(h.server, "GET", `/v1/kv/blocked?index=${at}&wait=30s`);
    assert.ok(await stillPending(pending));
    // An unrelated write must not answer it: had it, the old value would come back.
    await h.consul.kv.set("unrelated", "x");
    assert.ok(await stillPending(pending));
    await h.consul.kv.set("blocked", "new");
    const r = await pending;
    assert.equal(r.status, 200);
    const [item] = JSON.parse(r.text) as KvItem[];
    assert.equal(Buffer.from(item?.Value ?? "", "base64").toString(), "new");
    assert.equal(indexOf(r), item?.ModifyIndex);
    assert.ok(indexOf(r) > at);
  });

  it("answers a blocked GET with the current state when the wait runs out", async () => {
    await h.consul.kv.set("quiet", "q");
    const at = indexOf(await raw(h.server, "GET", "/v1/kv/quiet"));
    const started = Date.now();
    await h.consul.kv.set("elsewhere", "e");
    const r = await raw(h.server, "GET", `/v1/kv/quiet?index=${at}&wait=300ms`);
    assert.equal(r.status, 200);
    assert.equal(indexOf(r), at);
    // Only a lower bound: a slow machine can make this later, never earlier.
    assert.ok(Date.now() - started >= 290);
  });

  it("answers at once when the index is already behind", async () => {
    await h.consul.kv.set("behind", "b");
    const r = await raw(h.server, "GET", "/v1/kv/behind?index=1&wait=10m");
    assert.equal(r.status, 200);
    assert.ok(indexOf(r) > 1);
  });

  it("reports a missing key with the KV index and wakes when it is created", async () => {
    await h.consul.kv.set("other", "o");
    const missing = await raw(h.server, "GET", "/v1/kv/later");
    assert.equal(missing.status, 404);
    assert.equal(missing.text, "");
    const kvIndex = indexOf(missing);
    assert.equal(kvIndex, (await h.consul.kv.get("other"))?.ModifyIndex);

    const pending = raw(h.server, "GET", `/v1/kv/later?index=${kvIndex}&wait=30s`);
    assert.ok(await stillPending(pending));
    await h.consul.kv.set("later", "here");
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(indexOf(r), (await h.consul.kv.get("later"))?.ModifyIndex);
  });

  it("wakes a prefix watch on a write or delete below it, and its index never goes back", async () => {
    await h.consul.kv.set("pfx/a", "1");
    await h.consul.kv.set("pfx/b", "2");
    const first = await raw(h.server, "GET", "/v1/kv/pfx/?recurse");
    const pending = raw(h.server, "GET", `/v1/kv/pfx/?recurse&index=${indexOf(first)}&wait=30s`);
    await h.consul.kv.set("pfxz", "outside the prefix");
    assert.ok(await stillPending(pending));
    await h.consul.kv.del("pfx/b");
    const r = await pending;
    assert.equal(r.status, 200);
    assert.deepEqual(
      (JSON.parse(r.text) as { Key: string }[]).map((e) => e.Key),
      ["pfx/a"],
    );
    // The newest key left is older than the delete; the tombstone keeps the index at the delete.
    assert.ok(indexOf(r) > indexOf(first));
    assert.ok(indexOf(r) > ((await h.consul.kv.get("pfx/a"))?.ModifyIndex as number));
  });

  it("keeps a keys watch with a separator blocked on the same prefix rules", async () => {
    await h.consul.kv.set("tree/x/1", "1");
    const first = await raw(h.server, "GET", "/v1/kv/tree/?keys&separator=/");
    assert.deepEqual(JSON.parse(first.text), ["tree/x/"]);
    const pending = raw(h.server, "GET", `/v1/kv/tree/?keys&separator=/&index=${indexOf(first)}`);
    assert.ok(await stillPending(pending));
    await h.consul.kv.set("tree/y", "2");
    const r = await pending;
    assert.deepEqual(JSON.parse(r.text), ["tree/x/", "tree/y"]);
  });

  it("rejects a bad wait and a bad index with 400", async () => {
    const wait = await raw(h.server, "GET", "/v1/kv/x?index=5&wait=soon");
    assert.equal(wait.status, 400);
    assert.equal(wait.text, "Invalid wait time");
    const index = await raw(h.server, "GET", "/v1/kv/x?index=-1");
    assert.equal(index.status, 400);
    assert.equal(index.text, "Invalid index");
  });
});

describe("consul dev server: wait parsing", () => {
  it("reads Go durations", () => {
    assert.equal(parseGoDuration("30s"), 30e9);
    assert.equal(parseGoDuration("1m30s"), 90e9);
    assert.equal(parseGoDuration("60000ms"), 60e9);
    assert.equal(parseGoDuration("1.5h"), 5400e9);
    assert.equal(parseGoDuration("-2us"), -2000);
    assert.equal(parseGoDuration("0"), 0);
    for (const bad of ["", "5", "5x", "s", ".s", "1m 30s"])
      assert.throws(() => parseGoDuration(bad), /time:/);
  });

  it("parses index and wait, and knows the consistency mode", () => {
    assert.deepEqual(parseQueryOptions(new URLSearchParams("index=42&wait=1m30s")), {
      minIndex: 42,
      waitMs: 90_000,
      consistency: "leader",
    });
    assert.equal(parseQueryOptions(new URLSearchParams("stale")).consistency, "stale");
    assert.throws(() => parseQueryOptions(new URLSearchParams("stale&consistent")), /conflicting semantics/);
    assert.throws(
      () => parseQueryOptions(new URLSearchParams("index=18446744073709551616")),
      /Invalid index/,
    );
  });

  it("defaults to 5m, caps at 10m and adds at most wait/16 of jitter", () => {
    for (let i = 0; i < 200; i++) {
      const t = blockingTimeoutMs(16_000);
      assert.ok(t >= 16_000 && t < 17_000, `${t}`);
      const d = blockingTimeoutMs(0);
      assert.ok(d >= DEFAULT_WAIT_MS && d < DEFAULT_WAIT_MS * (17 / 16), `${d}`);
      const m = blockingTimeoutMs(60 * 60_000);
      assert.ok(m >= MAX_WAIT_MS && m < MAX_WAIT_MS * (17 / 16), `${m}`);
    }
  });
});
