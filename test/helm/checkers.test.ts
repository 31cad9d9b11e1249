import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageSources, inImage, pathProblem } from "./chart.ts";
import type { Schema } from "./jsonSchema.ts";
import { promRefs, seriesProblems } from "./promql.ts";
import { scanActions, valuesUses } from "./templates.ts";
import { parseYaml } from "./yaml.ts";

// The checkers of chart.test.ts, each shown to catch what it is there to catch: a check that cannot fail
// proves nothing about the chart.

describe("YAML subset parser", () => {
  it("reads block mappings, lists of mappings at either indentation, quoted and flow scalars", () => {
    const source = [
      "# comment",
      "a:",
      "  b: 1 # trailing comment",
      "  c: 'it''s'",
      '  d: "x#y"',
      "list:",
      "- id: a",
      "  enabled: true",
      "  tags: []",
      "nested:",
      "  - - 1.5",
      "    - plain text",
      "  - {}",
      "size: 8Gi",
    ].join("\n");
    assert.deepEqual(parseYaml(source), {
      a: { b: 1, c: "it's", d: "x#y" },
      list: [{ id: "a", enabled: true, tags: [] }],
      nested: [[1.5, "plain text"], {}],
      size: "8Gi",
    });
  });

  it("refuses what it does not read the way Helm would", () => {
    for (const [source, why] of [
      ["a:\n\tb: 1", /tab/],
      ["a: yes", /ambiguous/],
      ["a: 0755", /number/],
      ["a:\nb: 1", /empty value/],
      ["a: 1\na: 2", /duplicate/],
      ["a: &x 1", /refuses/],
      ["a: b: c", /": "/],
      ["a: 1\n   b: 2", /indentation/],
      ["- 1\nb: 2", /./],
    ] as const)
      assert.throws(() => parseYaml(source), why, source);
  });
});

describe("template scanner", () => {
  it("skips strings, raw strings and comments when looking for the closing delimiter", () => {
    const { actions, problems } = scanActions('a {{ "}}" }} b {{`{{ x }}`}} {{/* }} */}} {{- .Values.x -}}');
    assert.deepEqual(problems, []);
    assert.deepEqual(
      actions.map((a) => a.text),
      ['"}}"', "`{{ x }}`", "/* }} */", ".Values.x"],
    );
  });

  it("reports an unclosed {{ and a stray }}", () => {
    assert.deepEqual(scanActions("a\n{{ .Values.x \nb").problems, ['line 2: "{{" is never closed']);
    assert.deepEqual(scanActions("a }}\n{{ x }}").problems, ['line 1: "}}" outside an action']);
  });
});

describe(".Values reads", () => {
  const paths = (source: string) => {
    const { uses, problems } = valuesUses(scanActions(source).actions);
    return { paths: uses.map((u) => u.path.join(".")), problems };
  };

  it("follows the dot and variables through range, with, assignments and helpers", () => {
    const source = [
      "{{ .Values.a.b }}",
      "{{- range $link := .Values.links }}{{ $link.id }}{{ .zone }}{{ $.Values.c }}{{ end }}",
      "{{ with .Values.d }}{{ .e }}{{ else }}{{ .Values.f }}{{ end }}",
      "{{ $g := .Values.g }}{{ $g.h }}",
      '{{ printf "%s.x" .Release.Name }}{{ toYaml ($x.y | default .Values.i) }}',
      '{{- define "h" -}}{{ .root.Values.j }}{{ .link.kafka }}{{ .component }}{{ .Values.k }}{{ $.root.Values.l }}{{- end -}}',
    ].join("\n");
    const { paths: found, problems } = paths(source);
    assert.deepEqual(found, [
      "a.b",
      "links",
      "links.*.id",
      "links.*.zone",
      "c",
      "d",
      "d.e",
      "f",
      "g",
      "g.h",
      "i",
      "j",
      "links.*.kafka",
      "k",
      "l",
    ]);
    assert.deepEqual(problems, ["line 5: $x is not declared", "line 5: cannot tell what $x.y refers to"]);
  });

  it("refuses fields of values it cannot follow", () => {
    assert.deepEqual(paths('{{ $d := dict "a" 1 }}{{ $d.a }}').problems, [
      "line 1: cannot tell what $d.a refers to",
    ]);
    assert.deepEqual(paths("{{ .Value.x }}").problems, ["line 1: cannot tell what .Value.x refers to"]);
    assert.deepEqual(paths('{{ define "h" }}{{ .link.id }}{{ .other.x }}{{ end }}').problems, [
      "line 1: cannot tell what .other.x refers to",
    ]);
  });

  it("checks paths against values.yaml, and list entries against the schema", () => {
    const schema: Schema = {
      type: "object",
      properties: {
        a: { type: "object", properties: { b: { type: "string" } } },
        links: { type: "array", items: { $ref: "#/$defs/link" } },
        env: { type: "object", additionalProperties: { type: "string" } },
      },
      $defs: { link: { type: "object", properties: { id: { type: "string" } } } },
    };
    const defaults = { a: { b: "x" }, links: [], env: {} };
    assert.equal(pathProblem(["a", "b"], defaults, schema), null);
    assert.equal(pathProblem(["links", "*", "id"], defaults, schema), null);
    assert.equal(pathProblem(["env", "*"], defaults, schema), null);
    assert.equal(pathProblem(["a", "c"], defaults, schema), "a.c is not in values.yaml");
    assert.equal(pathProblem(["a", "b"], { a: {} }, schema), "a.b is not in values.yaml");
    assert.equal(
      pathProblem(["links", "*", "zone"], defaults, schema),
      "links.*.zone is not in values.schema.json",
    );
  });
});

describe("PromQL references", () => {
  const exported = new Map([
    ["m_total", { labels: new Set(["service", "link"]) }],
    ["h_seconds_bucket", { labels: new Set(["service", "le"]) }],
  ]);

  it("reads metric names and labels, not functions, keywords, strings or durations", () => {
    assert.deepEqual(
      promRefs(
        'sum by (link) (rate(m_total{link=~"$link", x!="a b"}[$__rate_interval])) > 0 and on (pod) up',
      ),
      {
        selectors: [
          { metric: "m_total", labels: ["link", "x"] },
          { metric: "up", labels: [] },
        ],
        grouping: ["link", "pod"],
      },
    );
    assert.deepEqual(promRefs("label_values(m_total, link)"), {
      selectors: [{ metric: "m_total", labels: [] }],
      grouping: ["link"],
    });
  });

  it("accepts exported series with their labels", () => {
    assert.deepEqual(
      seriesProblems("histogram_quantile(0.99, sum by (le, pod) (rate(h_seconds_bucket[5m])))", exported),
      [],
    );
  });

  it("reports unknown metrics and labels", () => {
    assert.deepEqual(seriesProblems('max by (state) (m_total{kind="x"}) + m_totl', exported), [
      "m_total has no label kind",
      "m_totl is not exported by any service",
      "no series in the expression has the label state",
    ]);
  });
});

describe("image helpers", () => {
  it("reads what a Dockerfile copies from the context", () => {
    const sources = imageSources(
      "COPY --from=deps /app/node_modules ./node_modules\nCOPY package.json tsconfig.json ./\nCOPY --chown=1:1 common ./common\n",
    );
    assert.deepEqual(sources, ["package.json", "tsconfig.json", "common"]);
    assert.ok(inImage("common/links.ts", sources));
    assert.ok(!inImage("commonx/a.ts", sources));
  });
});
