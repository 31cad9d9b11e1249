// Which metrics and labels a PromQL expression reads, for checking dashboards and alerts against the series
// the services export. Not a PromQL parser: it removes what cannot name a metric (strings, range durations,
// function calls, keywords) and reads selectors and grouping clauses, which is enough for the expressions
// written here, and anything left over that looks like a name is taken to be a metric name.

export interface PromRefs {
  /** Each metric read, with the label names its selector matches on. */
  selectors: { metric: string; labels: string[] }[];
  /** Label names of by/without/on/ignoring/group_left/group_right and of label_values(). */
  grouping: string[];
}

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);
const GROUPING = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

export function promRefs(expr: string): PromRefs {
  const selectors: PromRefs["selectors"] = [];
  const grouping: string[] = [];
  let text = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""').replace(/\[[^\]]*\]/g, " ");

  // Grafana's variable query: label_values(selector, label).
  text = text.replace(/\blabel_values\(([^,]*),\s*(\w+)\s*\)/g, (_all, selector: string, label: string) => {
    grouping.push(label);
    return ` ${selector} `;
  });
  text = text.replace(GROUPING, (_all, labels: string) => {
    grouping.push(...labelList(labels));
    return " ";
  });
  text = text.replace(
    /([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}/g,
    (_all, metric: string | undefined, matchers: string) => {
      const labels = [...matchers.matchAll(/([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] as string);
      selectors.push({ metric: metric ?? "", labels });
      return " ";
    },
  );
  for (const m of text.matchAll(/(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const name = m[1] as string;
    if (m[2] === undefined && !KEYWORDS.has(name.toLowerCase())) selectors.push({ metric: name, labels: [] });
  }
  return { selectors, grouping };
}

function labelList(raw: string): string[] {
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Labels Prometheus adds to every target a ServiceMonitor scrapes (the services' own `service` is kept). */
const TARGET_LABELS = ["namespace", "pod", "instance", "job", "container", "endpoint"];

/** Metrics or labels an expression reads that no service exports. */
export function seriesProblems(expr: string, exported: Map<string, { labels: Set<string> }>): string[] {
  const problems: string[] = [];
  const refs = promRefs(expr);
  const known = new Set(TARGET_LABELS);
  for (const { metric, labels } of refs.selectors) {
    const series = exported.get(metric);
    if (!series) {
      problems.push(`${metric || "(selector without a metric name)"} is not exported by any service`);
      continue;
    }
    for (const label of series.labels) known.add(label);
    for (const label of labels) {
      if (!series.labels.has(label) && !TARGET_LABELS.includes(label))
        problems.push(`${metric} has no label ${label}`);
    }
  }
  for (const label of refs.grouping) {
    if (!known.has(label)) problems.push(`no series in the expression has the label ${label}`);
  }
  return problems;
}
