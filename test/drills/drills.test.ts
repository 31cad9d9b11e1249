import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DrillOptions, runDrill } from "../../loadtest/drills/drill.ts";
import { FAULTS, type FaultName } from "../../loadtest/drills/faults.ts";
import { type DrillStack, openDrillStack } from "../../loadtest/drills/target.ts";

// Short versions of the fault drills (loadtest/drills/), on a dev stack of their own with two gateways:
// callers keep reading through every fault and the switch it causes. What is asserted holds on any
// machine, however slow: not one request fails, no caller ever sees a cumulative value go down, and the
// routing moves away from the broken link. The figures (how fast) are for `npm run drill`.

const SHORT: DrillOptions = {
  rate: 50,
  baselineMs: 1_000,
  holdMs: 1_000,
  afterMs: 500,
  steadyTimeoutMs: 120_000,
  switchTimeoutMs: 60_000,
  outDir: null,
  png: false,
};

const DRILLS: FaultName[] = ["processor-kill", "redis-kill", "divergence"];

// A link read may take this long before the gateway tries the next one: generous, so that a machine busy
// with other work does not make every link look too slow at once (an answer no link gave is a 503).
// The supervisor waits 5 s before restarting a dead service, so a killed Redis stays down longer than the
// comparator needs to see it (with the default 0.5 s it can be back, data intact, before it is judged).
const STACK = { READ_TIMEOUT: "1s", GENERATOR_RATE: "100", RESTART_BACKOFF_INITIAL: "5s" };

describe("fault drills under load", () => {
  let drills: DrillStack | undefined;

  before(
    async () => {
      drills = await openDrillStack({ own: true, env: STACK }, () => {});
    },
    { timeout: 180_000 },
  );

  after(() => drills?.close(), { timeout: 60_000 });

  for (const name of DRILLS) {
    it(`${FAULTS[name].title}: no failed request, no dip, a switch`, { timeout: 180_000 }, async () => {
      assert.ok(drills, "the drills' stack started");
      const r = await runDrill(drills.target, FAULTS[name], SHORT);
      assert.ok(r.requests > 0, "the load ran");
      assert.equal(r.failed, 0, `failed requests: ${r.errors.join("; ")}`);
      assert.equal(r.dips, 0, `a caller saw a cumulative value drop by up to ${r.maxDip}`);
      assert.ok(
        r.switchedTo !== null && r.switchedTo !== r.link,
        `the routing moved away from link ${r.link}`,
      );
    });
  }
});
