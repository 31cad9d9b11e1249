import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, duration, int, list, loadConfig, oneOf, parseDuration } from "../../common/config.ts";

const spec = {
  port: int({ env: "PORT", default: 8080, min: 1, max: 65535, doc: "listen port" }),
  links: list({ env: "LINKS", default: ["a", "b", "c"], item: /^[a-z0-9]+$/, doc: "link ids" }),
  probe: duration({ env: "PROBE_INTERVAL", default: 250, doc: "probe interval" }),
  mode: oneOf({ env: "MODE", default: "auto", values: ["auto", "manual"] as const, doc: "mode" }),
};

describe("config", () => {
  it("uses defaults when variables are unset", () => {
    assert.deepEqual(loadConfig(spec, {}), { port: 8080, links: ["a", "b", "c"], probe: 250, mode: "auto" });
  });

  it("parses set variables", () => {
    const c = loadConfig(spec, { PORT: "9000", LINKS: "x, y", PROBE_INTERVAL: "1m30s", MODE: "manual" });
    assert.deepEqual(c, { port: 9000, links: ["x", "y"], probe: 90_000, mode: "manual" });
  });

  it("names every bad variable, its value and the expectation", () => {
    assert.throws(
      () => loadConfig(spec, { PORT: "80a", LINKS: "A!", MODE: "sometimes" }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 3);
        assert.match(err.message, /PORT="80a": must be a whole number/);
        assert.match(err.message, /LINKS="A!": item "A!" must match/);
        assert.match(err.message, /MODE="sometimes": must be one of auto, manual/);
        return true;
      },
    );
  });

  it("parses Go-style durations and rejects garbage", () => {
    assert.equal(parseDuration("250ms"), 250);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("60000"), 60_000);
    assert.throws(() => parseDuration("3 seconds"), /duration/);
    assert.throws(() => parseDuration("s"), /duration/);
  });
});
