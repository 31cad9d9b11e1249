// Go's time.ParseDuration, because Consul reads `wait`, session `TTL` and `LockDelay` with it and clients
// send exactly what Go accepts: "30s", "1m30s", "1.5h", "60000ms", "0", with an optional sign. The result is
// in nanoseconds.

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "\u00b5s": 1e3,
  "\u03bcs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const MAX_DURATION_NS = 2 ** 63 - 1;

export function parseGoDuration(raw: string): number {
  const quoted = JSON.stringify(raw);
  let rest = raw;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw new Error(`time: invalid duration ${quoted}`);
  let total = 0;
  while (rest !== "") {
    const num = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = num?.[1] ?? "";
    const frac = num?.[2];
    if (whole === "" && (frac === undefined || frac === ""))
      throw new Error(`time: invalid duration ${quoted}`);
    rest = rest.slice(num?.[0].length ?? 0);
    const unit = /^[^\d.]*/.exec(rest)?.[0] ?? "";
    if (unit === "") throw new Error(`time: missing unit in duration ${quoted}`);
    const scale = UNIT_NS[unit];
    if (scale === undefined)
      throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    rest = rest.slice(unit.length);
    total += Number(`${whole || "0"}.${frac || "0"}`) * scale;
    if (total > MAX_DURATION_NS) throw new Error(`time: invalid duration ${quoted}`);
  }
  // Go counts whole nanoseconds; rounding also drops the float noise of scaling fractions.
  return sign * Math.round(total);
}

export const NS_PER_MS = 1e6;
