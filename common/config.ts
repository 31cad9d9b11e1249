// Twelve-factor configuration: every setting is an environment variable with a default that works on
// one machine, a one-line description, and a parser that rejects bad values at start with a message
// naming the variable, the value and what was expected. Each service declares its settings in one
// object (its `config.ts`), so that object is the one place to read what the service can be told.

export interface Setting<T> {
  /** Environment variable name. */
  env: string;
  /** Used when the variable is unset or empty; `undefined` makes the variable required. */
  default: T | undefined;
  /** What it does, shown in errors and in `--help`. */
  doc: string;
  parse: (raw: string) => T;
  /** Human form of the default for documentation. */
  shownDefault?: string;
}

export type SettingsSpec = Record<string, Setting<unknown>>;
export type ConfigOf<S extends SettingsSpec> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export function loadConfig<S extends SettingsSpec>(
  spec: S,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, setting] of Object.entries(spec)) {
    const raw = env[setting.env];
    if (raw === undefined || raw === "") {
      if (setting.default === undefined) problems.push(`${setting.env} is required: ${setting.doc}`);
      out[key] = setting.default;
      continue;
    }
    try {
      out[key] = setting.parse(raw.trim());
    } catch (err) {
      problems.push(`${setting.env}=${JSON.stringify(raw)}: ${(err as Error).message} (${setting.doc})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/** Markdown table of a spec, for the README and `--help`. */
export function describeConfig(spec: SettingsSpec): string {
  const rows = Object.values(spec).map((s) => {
    const shown = s.shownDefault ?? (s.default === undefined ? "(required)" : JSON.stringify(s.default));
    return `| \`${s.env}\` | ${shown} | ${s.doc} |`;
  });
  return ["| variable | default | meaning |", "|---|---|---|", ...rows].join("\n");
}

type Base<T> = Omit<Setting<T>, "parse">;

export function str(s: Base<string> & { pattern?: RegExp }): Setting<string> {
  return {
    ...s,
    parse: (raw) => {
      if (s.pattern && !s.pattern.test(raw)) throw new Error(`must match ${s.pattern}`);
      return raw;
    },
  };
}

export function int(s: Base<number> & { min?: number; max?: number }): Setting<number> {
  return {
    ...s,
    parse: (raw) => {
      if (!/^-?\d+$/.test(raw)) throw new Error("must be a whole number");
      const n = Number(raw);
      if (s.min !== undefined && n < s.min) throw new Error(`must be at least ${s.min}`);
      if (s.max !== undefined && n > s.max) throw new Error(`must be at most ${s.max}`);
      return n;
    },
  };
}

export function num(s: Base<number> & { min?: number; max?: number }): Setting<number> {
  return {
    ...s,
    parse: (raw) => {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new Error("must be a number");
      if (s.min !== undefined && n < s.min) throw new Error(`must be at least ${s.min}`);
      if (s.max !== undefined && n > s.max) throw new Error(`must be at most ${s.max}`);
      return n;
    },
  };
}

export function bool(s: Base<boolean>): Setting<boolean> {
  return {
    ...s,
    parse: (raw) => {
      const v = raw.toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      throw new Error("must be true or false");
    },
  };
}

export function oneOf<const T extends string>(s: Base<T> & { values: readonly T[] }): Setting<T> {
  return {
    ...s,
    parse: (raw) => {
      if (!(s.values as readonly string[]).includes(raw))
        throw new Error(`must be one of ${s.values.join(", ")}`);
      return raw as T;
    },
  };
}

export function list(s: Base<string[]> & { item?: RegExp }): Setting<string[]> {
  return {
    ...s,
    shownDefault: s.shownDefault ?? (s.default ? JSON.stringify(s.default.join(",")) : undefined),
    parse: (raw) => {
      const items = raw
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x !== "");
      for (const item of items) {
        if (s.item && !s.item.test(item))
          throw new Error(`item ${JSON.stringify(item)} must match ${s.item}`);
      }
      return items;
    },
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `250ms`, `3s`, `1m30s`, `2h`; a bare number is milliseconds. Returns milliseconds. */
export function parseDuration(raw: string): number {
  if (/^\d+$/.test(raw)) return Number(raw);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(raw); m; m = re.exec(raw)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  if (consumed !== raw.length || consumed === 0)
    throw new Error("must be a duration such as 500ms, 3s or 1m30s");
  return Math.round(total);
}

export function duration(s: Base<number> & { min?: number }): Setting<number> {
  return {
    ...s,
    shownDefault: s.shownDefault ?? (s.default === undefined ? undefined : `${s.default}ms`),
    parse: (raw) => {
      const ms = parseDuration(raw);
      if (s.min !== undefined && ms < s.min) throw new Error(`must be at least ${s.min}ms`);
      return ms;
    },
  };
}

export function url(s: Base<string> & { protocols: string[] }): Setting<string> {
  return {
    ...s,
    parse: (raw) => {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new Error("must be a URL");
      }
      if (!s.protocols.includes(u.protocol)) throw new Error(`must use ${s.protocols.join(" or ")}`);
      return raw;
    },
  };
}
