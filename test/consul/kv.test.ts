import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { indexOf, raw, useHarness } from "./helpers.ts";

// The KV store through the npm `consul` client the services use, plus the index headers it hides.

describe("consul dev server: KV through the npm client", () => {
  const h = useHarness();

  it("sets, gets, updates and deletes a key", async () => {
    assert.equal(await h.consul.kv.set("svc/routing", '{"version":1}'), true);
    const first = await h.consul.kv.get("svc/routing");
    assert.ok(first);
    assert.equal(first.Key, "svc/routing");
    assert.equal(first.Value, '{"version":1}');
    assert.equal(first.Flags, 0);
    assert.equal(first.LockIndex, 0);
    assert.equal(first.CreateIndex, first.ModifyIndex);

    assert.equal(await h.consul.kv.set("svc/routing", '{"version":2}'), true);
    const second = await h.consul.kv.get("svc/routing");
    assert.ok(second);
    assert.equal(second.Value, '{"version":2}');
    assert.equal(second.CreateIndex, first.CreateIndex);
    assert.ok(second.ModifyIndex > first.ModifyIndex);

    assert.equal(await h.consul.kv.del("svc/routing"), true);
    assert.equal(await h.consul.kv.get("svc/routing"), undefined);
  });

  it("does not move any index for a PUT that changes nothing", async () => {
    await h.consul.kv.set("same", "v");
    const before = await raw(h.server, "GET", "/v1/kv/same");
    await h.consul.kv.set("same", "v");
    const after = await raw(h.server, "GET", "/v1/kv/same");
    assert.equal(indexOf(after), indexOf(before));
    assert.deepEqual(JSON.parse(after.text), JSON.parse(before.text));
    await h.consul.kv.set("same", "w");
    assert.ok(indexOf(await raw(h.server, "GET", "/v1/kv/same")) > indexOf(before));
  });

  it("keeps flags, binary values and empty values", async () => {
    await h.consul.kv.set({ key: "flagged", value: "x", flags: 42 });
    assert.equal((await h.consul.kv.get("flagged"))?.Flags, 42);

    const bytes = Buffer.from([0, 255, 1, 254, 10]);
    await h.consul.kv.set("binary", bytes);
    const back = (await h.consul.kv.get({ key: "binary", raw: true })) as unknown as Buffer;
    assert.deepEqual(Buffer.from(back), bytes);

    await h.consul.kv.set("empty", "");
    const empty = JSON.parse((await raw(h.server, "GET", "/v1/kv/empty")).text);
    assert.equal(empty[0].Value, null);
  });

  it("lists a prefix recursively and as keys, with and without a separator", async () => {
    for (const k of ["dir/b", "dir/a", "dir/sub/x", "dir/sub/y", "dirt"]) await h.consul.kv.set(k, k);
    const items = (await h.consul.kv.get({ key: "dir/", recurse: true })) as unknown as { Key: string }[];
    assert.deepEqual(
      items.map((i) => i.Key),
      ["dir/a", "dir/b", "dir/sub/x", "dir/sub/y"],
    );
    assert.deepEqual(await h.consul.kv.keys("dir/"), ["dir/a", "dir/b", "dir/sub/x", "dir/sub/y"]);
    assert.deepEqual(await h.consul.kv.keys({ key: "dir/", separator: "/" }), ["dir/a", "dir/b", "dir/sub/"]);
    assert.deepEqual(await h.consul.kv.keys({ key: "dir", separator: "/" }), ["dir/", "dirt"]);
    assert.equal(await h.consul.kv.get({ key: "nothing/", recurse: true }), undefined);
  });

  // The client resolves Consul's `false` as undefined (papi drops a falsy body), hence notEqual(…, true);
  // the raw HTTP tests check the body itself.
  it("creates only once with cas=0 and refuses a stale cas", async () => {
    assert.equal(await h.consul.kv.set({ key: "lease", value: "one", cas: 0 }), true);
    assert.notEqual(await h.consul.kv.set({ key: "lease", value: "two", cas: 0 }), true);
    const current = await h.consul.kv.get("lease");
    assert.equal(current?.Value, "one");
    const at = current?.ModifyIndex as number;

    assert.equal(await h.consul.kv.set({ key: "lease", value: "three", cas: at }), true);
    assert.notEqual(await h.consul.kv.set({ key: "lease", value: "four", cas: at }), true);
    assert.equal((await h.consul.kv.get("lease"))?.Value, "three");

    assert.notEqual(await h.consul.kv.del({ key: "lease", cas: at }), true);
    assert.equal((await h.consul.kv.get("lease"))?.Value, "three");
    const now = (await h.consul.kv.get("lease"))?.ModifyIndex as number;
    assert.equal(await h.consul.kv.del({ key: "lease", cas: now }), true);
    assert.equal(await h.consul.kv.get("lease"), undefined);
  });

  it("deletes a tree without letting the prefix index go back", async () => {
    await h.consul.kv.set("tree/a", "1");
    await h.consul.kv.set("tree/b", "2");
    await h.consul.kv.set("keep", "k");
    const before = indexOf(await raw(h.server, "GET", "/v1/kv/tree/?recurse"));
    assert.equal(await h.consul.kv.del({ key: "tree/", recurse: true }), true);
    assert.ok(!(await h.consul.kv.keys("")).some((k) => k.startsWith("tree/")));
    const gone = await raw(h.server, "GET", "/v1/kv/tree/?recurse");
    assert.equal(gone.status, 404);
    assert.ok(indexOf(gone) > before);
    assert.equal((await h.consul.kv.get("keep"))?.Value, "k");
  });
});
