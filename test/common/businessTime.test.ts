import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BusinessClock } from "../../common/businessTime.ts";

describe("business time", () => {
  const shanghai = new BusinessClock("Asia/Shanghai");

  it("buckets by the zone's local date and minute", () => {
    // 2026-11-10T16:00:30Z is 2026-11-11 00:00:30 in Shanghai (UTC+8): the midnight spike.
    const b = shanghai.bucket(Date.parse("2026-11-10T16:00:30Z"));
    assert.deepEqual(b, {
      date: "2026-11-11",
      minute: "0000",
      minuteStart: Date.parse("2026-11-10T16:00:00Z"),
    });
    assert.equal(shanghai.dateOf(Date.parse("2026-11-10T15:59:59.999Z")), "2026-11-10");
  });

  it("maps a local date and minute back to the instant", () => {
    assert.equal(shanghai.instantOf("2026-11-11", "0930"), Date.parse("2026-11-11T01:30:00Z"));
  });

  it("follows daylight saving changes in zones that have them", () => {
    const ny = new BusinessClock("America/New_York");
    assert.equal(ny.bucket(Date.parse("2026-07-01T12:00:00Z")).minute, "0800");
    assert.equal(ny.bucket(Date.parse("2026-12-01T12:00:00Z")).minute, "0700");
  });

  it("rejects an unknown zone", () => {
    assert.throws(() => BusinessClock.validate("Mars/Olympus"), RangeError);
  });
});
