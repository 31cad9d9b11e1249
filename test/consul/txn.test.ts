import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { raw, useHarness } from "./helpers.ts";

// /v1/txn as Consul defines it: KV operations applied together or not at all, through the npm client the
// comparator uses and as raw HTTP for the statuses and bodies.

const b64 = (s: string) => Buffer.from(s).toString("base64");

interface TxnBody {
  Results: { KV: { Key: string; Value: string | null; ModifyIndex: number; Session?: string } }[] | null;
  Errors: { OpIndex: number; What: string }[] | null;
}

async function txn(
  h: ReturnType<typeof useHarness>,
  ops: unknown,
): Promise<{ status: number; body: TxnBody }> {
  const r = await raw(h.server, "PUT", "/v1/txn", { body: JSON.stringify(ops) });
  return { status: r.status, body: r.status === 200 || r.status === 409 ? JSON.parse(r.text) : r.text };
}

describe("consul dev server: /v1/txn", () => {
  const h = useHarness();

  it("applies writes together through the npm client, results without values", async () => {
    // The client's typings want { operations }, but its code sends its first argument as the body.
    const create = h.consul.transaction.create.bind(h.consul.transaction) as unknown as (
      ops: unknown[],
    ) => Promise<TxnBody>;
    const out = await create([
      { KV: { Verb: "set", Key: "t/a", Value: b64("1") } },
      { KV: { Verb: "cas", Key: "t/b", Value: b64("2"), Index: 0 } },
    ]);
    assert.deepEqual(
      out.Results?.map((r) => [r.KV.Key, r.KV.Value]),
      [
        ["t/a", null],
        ["t/b", null],
      ],
    );
    assert.equal(out.Errors, null);
    assert.equal((await h.consul.kv.get("t/a"))?.Value, "1");
    assert.equal((await h.consul.kv.get("t/b"))?.Value, "2");
  });

  it("rolls every operation back when one fails, naming each failure with 409", async () => {
    const before = await h.consul.kv.get("t/a");
    assert.ok(before);
    const { status, body } = await txn(h, [
      { KV: { Verb: "set", Key: "t/a", Value: b64("changed") } },
      { KV: { Verb: "set", Key: "t/new", Value: b64("x") } },
      { KV: { Verb: "cas", Key: "t/b", Value: b64("3"), Index: 1 } },
      { KV: { Verb: "check-not-exists", Key: "t/a" } },
    ]);
    assert.equal(status, 409);
    assert.equal(body.Results, null);
    assert.deepEqual(body.Errors, [
      { OpIndex: 2, What: 'failed to set key "t/b", index is stale' },
      { OpIndex: 3, What: 'key "t/a" exists' },
    ]);
    const after = await h.consul.kv.get("t/a");
    assert.equal(after?.Value, "1");
    assert.equal(after?.ModifyIndex, before.ModifyIndex);
    assert.equal(await h.consul.kv.get("t/new"), undefined);
    // The store's index did not move either: a blocking reader sees no change.
    const r = await raw(h.server, "GET", "/v1/kv/t/a");
    assert.equal(Number(r.headers.get("x-consul-index")), before.ModifyIndex);
  });

  it("checks, reads and deletes, and wakes blocking readers once", async () => {
    const a = await h.consul.kv.get("t/a");
    assert.ok(a);
    const woke = raw(h.server, "GET", `/v1/kv/t/a?index=${a.ModifyIndex}&wait=5s`);
    const { status, body } = await txn(h, [
      { KV: { Verb: "check-index", Key: "t/a", Index: a.ModifyIndex } },
      { KV: { Verb: "get", Key: "t/b" } },
      { KV: { Verb: "delete", Key: "t/a" } },
      { KV: { Verb: "get-tree", Key: "t/" } },
    ]);
    assert.equal(status, 200);
    assert.deepEqual(
      body.Results?.map((r) => [r.KV.Key, r.KV.Value]),
      [
        ["t/a", null],
        ["t/b", b64("2")],
        ["t/b", b64("2")],
      ],
    );
    assert.equal((await woke).status, 404);
  });

  it("refuses bodies Consul refuses, with its statuses", async () => {
    const notJson = await raw(h.server, "PUT", "/v1/txn", { body: "{" });
    assert.equal(notJson.status, 400);
    assert.match(notJson.text, /^Failed to parse body/);
    const tooMany = await txn(
      h,
      Array.from({ length: 129 }, (_, i) => ({ KV: { Verb: "get-or-empty", Key: `k${i}` } })),
    );
    assert.equal(tooMany.status, 413);
    assert.match(String(tooMany.body), /too many operations \(129 > 128\)/);
    const badVerb = await txn(h, [{ KV: { Verb: "explode", Key: "x" } }]);
    assert.equal(badVerb.status, 400);
    const badValue = await txn(h, [{ KV: { Verb: "set", Key: "x", Value: "!!" } }]);
    assert.equal(badValue.status, 400);
    const get = await raw(h.server, "GET", "/v1/txn");
    assert.equal(get.status, 405);
  });

  it("locks and unlocks with a session inside a transaction", async () => {
    const session = (await h.consul.session.create({ ttl: "10s" })) as { ID: string };
    const locked = await txn(h, [
      { KV: { Verb: "lock", Key: "t/lock", Value: b64("me"), Session: session.ID } },
      { KV: { Verb: "check-session", Key: "t/lock", Session: session.ID } },
    ]);
    assert.equal(locked.status, 200);
    assert.equal(locked.body.Results?.[0]?.KV.Session, session.ID);
    const other = await txn(h, [{ KV: { Verb: "unlock", Key: "t/lock", Value: b64(""), Session: "nope" } }]);
    assert.equal(other.status, 409);
    await h.consul.session.destroy(session.ID);
  });
});
