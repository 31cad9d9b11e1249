import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../common/config.ts";
import { generatorDefaults, loadGeneratorOptions } from "../../devstack/generator/config.ts";

describe("generator config", () => {
  it("reads every link's brokers and the documented defaults", () => {
    const o = loadGeneratorOptions({
      LINKS: "a,b",
      KAFKA_BROKERS_A: "127.0.0.1:9092",
      KAFKA_BROKERS_B: "h1:1,h2:2",
    });
    assert.deepEqual(o.links, [
      { id: "a", brokers: ["127.0.0.1:9092"] },
      { id: "b", brokers: ["h1:1", "h2:2"] },
    ]);
    const { startTime, ...rest } = o;
    const { startTime: _, ...defaults } = generatorDefaults();
    assert.deepEqual({ ...rest, links: undefined }, { ...defaults, links: undefined });
    assert.ok(Math.abs(startTime - Date.now()) < 5000, "start time defaults to now");
    assert.equal(o.rate, 2000);
    assert.equal(o.partitions, 8);
    assert.equal(o.truthFile, null);
    assert.equal(o.dimsDir, ".devstack/dims");
  });

  it("takes a start time as ISO-8601 or epoch ms, durations as Go-style strings", () => {
    const base = { LINKS: "a", KAFKA_BROKERS_A: "127.0.0.1:9092" };
    const iso = loadGeneratorOptions({
      ...base,
      GENERATOR_START_TIME: "2026-11-10T16:00:00Z",
      GENERATOR_LATE_BY: "3m",
    });
    assert.equal(iso.startTime, Date.parse("2026-11-10T16:00:00Z"));
    assert.equal(iso.lateByMs, 180_000);
    assert.equal(
      loadGeneratorOptions({ ...base, GENERATOR_START_TIME: "1794326400000" }).startTime,
      1794326400000,
    );
  });

  it("names every bad or missing variable", () => {
    assert.throws(
      () =>
        loadGeneratorOptions({
          LINKS: "a,b",
          KAFKA_BROKERS_A: "127.0.0.1:9092",
          GENERATOR_RATE: "-5",
          GENERATOR_MALFORMED_FRACTION: "2",
          GENERATOR_START_TIME: "yesterday",
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /GENERATOR_RATE="-5"/);
        assert.match(err.message, /GENERATOR_MALFORMED_FRACTION="2"/);
        assert.match(err.message, /GENERATOR_START_TIME="yesterday"/);
        return true;
      },
    );
    assert.throws(
      () => loadGeneratorOptions({ LINKS: "a,b", KAFKA_BROKERS_A: "127.0.0.1:9092" }),
      /KAFKA_BROKERS_B is required/,
    );
  });
});
