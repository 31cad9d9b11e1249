import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { indexOf, ManualClock, NODE, raw, stillPending, useHarness } from "./helpers.ts";

// Sessions and locks as the comparator's leader election uses them. TTLs and lock-delays run on a clock the
// test moves by hand, so a 10s TTL expires without waiting 20s.

interface SessionInfo {
  ID: string;
  Name: string;
  Node: string;
  LockDelay: number;
  Behavior: string;
  TTL: string;
  NodeChecks: string[] | null;
  CreateIndex: number;
}

interface KvItem {
  Value: string | null;
  Session?: string;
  LockIndex: number;
}

describe("consul dev server: sessions and locks", () => {
  const clock = new ManualClock();
  const h = useHarness({ clock });

  const create = async (body: Record<string, unknown>): Promise<string> =>
    ((await h.consul.session.create(body)) as { ID: string }).ID;
  const acquire = (key: string, session: string, value = session) =>
    h.consul.kv.set({ key, value, acquire: session }).then((ok) => ok === true);
  const release = (key: string, session: string, value = "") =>
    h.consul.kv.set({ key, value, release: session }).then((ok) => ok === true);
  const entry = async (key: string) => (await h.consul.kv.get(key)) as unknown as KvItem | undefined;

  it("creates, reads, lists, renews and destroys a session", async () => {
    const id = await create({ name: "leader", ttl: "15s", lockdelay: "1s", behavior: "release" });
    const info = (await h.consul.session.info(id)) as unknown as SessionInfo;
    assert.equal(info.ID, id);
    assert.equal(info.Name, "leader");
    assert.equal(info.Node, NODE);
    assert.equal(info.TTL, "15s");
    assert.equal(info.LockDelay, 1e9);
    assert.equal(info.Behavior, "release");
    assert.deepEqual(info.NodeChecks, ["serfHealth"]);

    const listed = (await h.consul.session.list()) as unknown as SessionInfo[];
    assert.ok(listed.some((s) => s.ID === id));
    const onNode = (await h.consul.session.node(NODE)) as unknown as SessionInfo[];
    assert.ok(onNode.some((s) => s.ID === id));
    assert.deepEqual(await h.consul.session.node("elsewhere"), []);

    const renewed = (await h.consul.session.renew(id)) as unknown as SessionInfo[];
    assert.equal(renewed[0]?.ID, id);

    await h.consul.session.destroy(id);
    assert.equal(await h.consul.session.info(id), undefined);
    await assert.rejects(h.consul.session.renew(id), (err: Error & { statusCode?: number }) => {
      assert.equal(err.statusCode, 404);
      assert.match(err.message, /not found/);
      return true;
    });
  });

  it("reads the create body the way Consul does", async () => {
    const put = async (body: string) => raw(h.server, "PUT", "/v1/session/create", { body });
    const info = async (id: string) =>
      JSON.parse((await raw(h.server, "GET", `/v1/session/info/${id}`)).text)[0] as SessionInfo;

    // Keys match in any case; a small number is seconds, a large one nanoseconds.
    const a = JSON.parse((await put('{"NAME":"a","lockDelay":5,"tTl":"20s"}')).text).ID;
    assert.equal((await info(a)).Name, "a");
    assert.equal((await info(a)).LockDelay, 5e9);
    assert.equal((await info(a)).TTL, "20s");
    const b = JSON.parse((await put('{"LockDelay":2500000000}')).text).ID;
    assert.equal((await info(b)).LockDelay, 2.5e9);
    const c = JSON.parse((await put("")).text).ID;
    assert.equal((await info(c)).LockDelay, 15e9);
    assert.equal((await info(c)).Behavior, "release");
    const d = JSON.parse((await put('{"Behavior":"","Unknown":1}')).text).ID;
    assert.equal((await info(d)).Behavior, "release");

    const shortTtl = await put('{"TTL":"5s"}');
    assert.equal(shortTtl.status, 500);
    assert.match(shortTtl.text, /Invalid Session TTL '5000000000', must be between \[10s=24h0m0s\]/);
    assert.equal((await put('{"TTL":"25h"}')).status, 500);
    const behavior = await put('{"Behavior":"explode"}');
    assert.equal(behavior.status, 500);
    assert.equal(behavior.text, "Invalid Behavior setting 'explode'");
    const garbage = await put("{not json");
    assert.equal(garbage.status, 400);
    assert.match(garbage.text, /^Request decode failed/);
    const unknownNode = await put('{"Node":"nowhere"}');
    assert.equal(unknownNode.status, 500);
    for (const id of [a, b, c, d]) await h.consul.session.destroy(id);
  });

  it("lets one session hold a lock, keeps LockIndex across releases and refuses the others", async () => {
    const a = await create({ name: "a", lockdelay: "0s" });
    const b = await create({ name: "b", lockdelay: "0s" });
    assert.equal(await acquire("lock/leader", a), true);
    assert.equal(await acquire("lock/leader", b), false);
    let held = await entry("lock/leader");
    assert.equal(held?.Session, a);
    assert.equal(held?.LockIndex, 1);
    assert.equal(held?.Value, a);

    // Re-acquiring by the holder updates the value but is not a new lock.
    assert.equal(await acquire("lock/leader", a, "a again"), true);
    held = await entry("lock/leader");
    assert.equal(held?.LockIndex, 1);
    assert.equal(held?.Value, "a again");

    assert.equal(await release("lock/leader", b), false);
    assert.equal(await release("lock/leader", a, "released"), true);
    held = await entry("lock/leader");
    assert.equal(held?.Session, undefined);
    assert.equal(held?.LockIndex, 1);
    assert.equal(held?.Value, "released");

    // A release is not an invalidation: no lock-delay, the next holder gets it at once.
    assert.equal(await acquire("lock/leader", b), true);
    assert.equal((await entry("lock/leader"))?.LockIndex, 2);

    const bogus = await raw(
      h.server,
      "PUT",
      "/v1/kv/lock/other?acquire=00000000-0000-0000-0000-000000000000",
    );
    assert.equal(bogus.status, 500);
    assert.match(bogus.text, /invalid session/);
    for (const id of [a, b]) await h.consul.session.destroy(id);
  });

  // Session a holds `key` and is destroyed; b may take the lock only once `heldMs` have passed.
  const expectLockDelay = async (key: string, lockdelay: string, heldMs: number) => {
    const a = await create({ name: "a", lockdelay });
    const b = await create({ name: "b" });
    assert.equal(await acquire(key, a), true);
    await h.consul.session.destroy(a);
    const released = await entry(key);
    assert.equal(released?.Session, undefined);
    assert.equal(released?.Value, a);

    assert.equal(await acquire(key, b), false);
    clock.advance(heldMs - 1_000);
    assert.equal(await acquire(key, b), false);
    clock.advance(1_001);
    assert.equal(await acquire(key, b), true);
    await h.consul.session.destroy(b);
  };

  it("releases a destroyed session's locks and holds them back for the lock-delay", () =>
    expectLockDelay("lock/delay", "10s", 10_000));

  it("caps the lock-delay at 60s", () => expectLockDelay("lock/cap", "5m", 60_000));

  it("invalidates a TTL session at twice its TTL, unless renewed", async () => {
    const a = await create({ name: "ttl", ttl: "10s", lockdelay: "15s" });
    const b = await create({ name: "waiting" });
    assert.equal(await acquire("lock/ttl", a), true);

    clock.advance(15_000);
    await h.consul.session.renew(a);
    clock.advance(19_000);
    assert.equal(((await h.consul.session.info(a)) as unknown as SessionInfo | undefined)?.ID, a);
    assert.equal((await entry("lock/ttl"))?.Session, a);

    clock.advance(1_001);
    assert.equal(await h.consul.session.info(a), undefined);
    assert.equal((await entry("lock/ttl"))?.Session, undefined);
    assert.equal(await acquire("lock/ttl", b), false);
    clock.advance(15_000);
    assert.equal(await acquire("lock/ttl", b), true);
    await h.consul.session.destroy(b);
  });

  it("deletes the held keys of an expired delete-behavior session, waking their watchers", async () => {
    const a = await create({ name: "ephemeral", ttl: "10s", behavior: "delete" });
    assert.equal(await acquire("members/a", a), true);
    const at = indexOf(await raw(h.server, "GET", "/v1/kv/members/?recurse"));
    const pending = raw(h.server, "GET", `/v1/kv/members/?recurse&index=${at}&wait=30s`);
    assert.ok(await stillPending(pending));
    clock.advance(20_001);
    const r = await pending;
    assert.equal(r.status, 404);
    assert.ok(indexOf(r) > at);
    assert.equal(await entry("members/a"), undefined);
  });

  it("blocks session reads until the sessions change", async () => {
    const list = await raw(h.server, "GET", "/v1/session/list");
    const pending = raw(h.server, "GET", `/v1/session/list?index=${indexOf(list)}&wait=30s`);
    assert.ok(await stillPending(pending));
    const id = await create({ name: "new" });
    const r = await pending;
    assert.ok((JSON.parse(r.text) as SessionInfo[]).some((s) => s.ID === id));
    assert.equal(indexOf(r), ((await h.consul.session.info(id)) as unknown as SessionInfo).CreateIndex);
    await h.consul.session.destroy(id);
  });
});
