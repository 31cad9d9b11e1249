import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LinkState, RoutingDocument } from "../../common/routing.ts";
import { decideAutomatic, isEligible, nextRouting, standbyOrder } from "../../comparator/decide.ts";
import { type LinkJudgement, unknownJudgement } from "../../comparator/judge.ts";

const FAILBACK_AFTER = 5;

function judged(link: string, state: LinkState, healthyClosedMinutes: number | null = null): LinkJudgement {
  return { ...unknownJudgement(link, 0), state, healthyClosedMinutes };
}

function routing(active: string, mode: "auto" | "manual" = "auto"): RoutingDocument {
  return {
    version: 7,
    active,
    standby: ["a", "b", "c"].filter((l) => l !== active),
    mode,
    reason: "test",
    changedAt: "2026-11-21T00:00:00.000Z",
    changedBy: "test",
  };
}

describe("decide: automatic failover", () => {
  it("does nothing while the active link is healthy or not yet judged", () => {
    const others = [judged("b", "healthy"), judged("c", "healthy")];
    assert.deepEqual(decideAutomatic(routing("a"), [judged("a", "healthy"), ...others], FAILBACK_AFTER), {
      kind: "none",
    });
    assert.deepEqual(decideAutomatic(routing("a"), [judged("a", "unknown"), ...others], FAILBACK_AFTER), {
      kind: "none",
    });
  });

  it("moves active to the first healthy link by priority, whatever the active link's fault", () => {
    for (const fault of ["down", "lagging", "diverged"] as const) {
      const links = [judged("a", fault), judged("b", "lagging"), judged("c", "healthy")];
      assert.deepEqual(decideAutomatic(routing("a"), links, FAILBACK_AFTER), {
        kind: "auto_failover",
        from: "a",
        to: "c",
        standby: ["a", "b"],
        lastResort: false,
      });
    }
    const links = [judged("a", "down"), judged("b", "healthy"), judged("c", "healthy")];
    assert.equal((decideAutomatic(routing("a"), links, FAILBACK_AFTER) as { to: string }).to, "b");
  });

  it("keeps the active link when no other link is healthy: never without an active link", () => {
    const links = [judged("a", "down"), judged("b", "down"), judged("c", "unknown")];
    assert.deepEqual(decideAutomatic(routing("a"), links, FAILBACK_AFTER), {
      kind: "no_target",
      active: "a",
      activeState: "down",
    });
  });

  it("never moves a pinned routing", () => {
    const links = [judged("a", "down"), judged("b", "healthy"), judged("c", "healthy")];
    assert.deepEqual(decideAutomatic(routing("a", "manual"), links, FAILBACK_AFTER), {
      kind: "pinned_hold",
      active: "a",
      activeState: "down",
    });
  });

  it("never fails back to a recovered link while the active one is healthy", () => {
    const links = [judged("a", "healthy", 500), judged("b", "healthy"), judged("c", "healthy")];
    assert.deepEqual(decideAutomatic(routing("b"), links, FAILBACK_AFTER), { kind: "none" });
  });

  it("prefers a link that stayed healthy FAILBACK_AFTER_MINUTES closed minutes over a recent recovery", () => {
    const links = [
      judged("a", "healthy", FAILBACK_AFTER - 1),
      judged("b", "down"),
      judged("c", "healthy", FAILBACK_AFTER),
    ];
    const decision = decideAutomatic(routing("b"), links, FAILBACK_AFTER);
    assert.equal(decision.kind, "auto_failover");
    assert.equal((decision as { to: string }).to, "c");
    assert.deepEqual((decision as { standby: string[] }).standby, ["a", "b"]);
  });

  it("takes a recently recovered link only as a last resort, and says so", () => {
    const links = [judged("a", "healthy", 1), judged("b", "down"), judged("c", "diverged")];
    assert.deepEqual(decideAutomatic(routing("b"), links, FAILBACK_AFTER), {
      kind: "auto_failover",
      from: "b",
      to: "a",
      standby: ["b", "c"],
      lastResort: true,
    });
  });
});

describe("decide: eligibility, standby order, next document", () => {
  it("counts a link eligible when healthy since the start or healthy long enough after a recovery", () => {
    assert.equal(isEligible(judged("a", "healthy"), FAILBACK_AFTER), true);
    assert.equal(isEligible(judged("a", "healthy", FAILBACK_AFTER), FAILBACK_AFTER), true);
    assert.equal(isEligible(judged("a", "healthy", FAILBACK_AFTER - 1), FAILBACK_AFTER), false);
    assert.equal(isEligible(judged("a", "lagging"), FAILBACK_AFTER), false);
  });

  it("lists eligible standbys first, each group in priority order", () => {
    const links = [
      judged("a", "down"),
      judged("b", "healthy", 0),
      judged("c", "healthy"),
      judged("d", "healthy"),
    ];
    assert.deepEqual(standbyOrder(links, "d", FAILBACK_AFTER), ["c", "a", "b"]);
  });

  it("bumps the version by one and stamps the change", () => {
    const next = nextRouting(
      routing("a"),
      { active: "b", standby: ["c", "a"], mode: "auto", reason: "a is down", changedBy: "cmp-1" },
      Date.UTC(2026, 10, 21, 12),
    );
    assert.deepEqual(next, {
      version: 8,
      active: "b",
      standby: ["c", "a"],
      mode: "auto",
      reason: "a is down",
      changedAt: "2026-11-21T12:00:00.000Z",
      changedBy: "cmp-1",
    });
  });
});
