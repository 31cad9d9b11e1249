import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  CHART,
  envNames,
  envNamesIn,
  examples,
  imageSources,
  inImage,
  mergeValues,
  pathProblem,
  REPO,
  read,
  schema,
  templates,
  values,
} from "./chart.ts";
import { exportedSeries, requiredSettings, SERVICES, serviceEnvironment } from "./exported.ts";
import { isObject, type Schema, validate } from "./jsonSchema.ts";
import { seriesProblems } from "./promql.ts";
import { checkBlocks, defines, scanActions, valuesUses } from "./templates.ts";

// The chart checked without Helm: values against the schema, templates against the values, the environment
// it gives each service against what the service reads, dashboards and alerts against the series the
// services export, and the image against the files the chart runs.

/**
 * Variables the chart sets that the service does not read yet, each waiting for a change to the service.
 * The processor's ops server listens on 127.0.0.1 only, out of reach of probes and Prometheus.
 */
describe("values", () => {
  it("values.yaml is plain YAML that validates against values.schema.json", () => {
    assert.deepEqual(validate(schema(), values()), []);
  });

  it("every example, merged over values.yaml as Helm merges it, validates against the schema", () => {
    const all = examples();
    assert.ok(all.size >= 2, "examples/ holds the three-zone and the try-it-out values");
    for (const [file, example] of all)
      assert.deepEqual(validate(schema(), mergeValues(values(), example)), [], `examples/${file}`);
  });

  it("every object of the schema declares its keys or says what undeclared keys hold", () => {
    const loose: string[] = [];
    const visit = (node: Schema, at: string) => {
      if (node.properties && node.additionalProperties === undefined) loose.push(at);
      for (const [key, child] of Object.entries(node.properties ?? {})) visit(child, `${at}.${key}`);
      for (const [key, child] of Object.entries(node.$defs ?? {})) visit(child, `$defs.${key}`);
      if (node.items) visit(node.items, `${at}[]`);
    };
    visit(schema(), "$");
    assert.deepEqual(loose, []);
  });

  it("the env maps of values.yaml and the examples name variables their service reads", () => {
    const unknown: string[] = [];
    const files = new Map([["values.yaml", values()], ...examples()]);
    for (const [file, v] of files) {
      const merged = mergeValues(values(), v);
      if (!isObject(merged)) throw new Error(`${file} is not a mapping`);
      const maps: [string, string, unknown][] = [
        ["processor", "processor.env", (merged.processor as Record<string, unknown>).env],
        ["gateway", "gateway.env", (merged.gateway as Record<string, unknown>).env],
        ["comparator", "comparator.env", (merged.comparator as Record<string, unknown>).env],
        ...(merged.links as Record<string, unknown>[]).map(
          (l, i) => ["processor", `links[${i}].env`, l.env] as [string, string, unknown],
        ),
      ];
      for (const [service, at, env] of maps) {
        const reads = serviceEnvironment(service as (typeof SERVICES)[number], REPO);
        for (const name of Object.keys(env ?? {}))
          if (!reads.has(name)) unknown.push(`${file} ${at}.${name}: ${service} does not read it`);
      }
    }
    assert.deepEqual(unknown, []);
  });
});

describe("templates", () => {
  it("every template's {{ }} delimiters and if/range/with/define blocks balance", () => {
    for (const [file, source] of templates()) {
      const { actions, problems } = scanActions(source);
      assert.deepEqual([...problems, ...checkBlocks(actions)], [], file);
    }
  });

  it("every .Values path a template reads exists in values.yaml (list entries: in the schema)", () => {
    let count = 0;
    for (const [file, source] of templates()) {
      const { uses, problems } = valuesUses(scanActions(source).actions);
      for (const use of uses) {
        const problem = pathProblem(use.path, values(), schema());
        if (problem) problems.push(`line ${use.line}: .Values.${use.path.join(".")}: ${problem}`);
      }
      count += uses.length;
      assert.deepEqual(problems, [], file);
    }
    assert.ok(count > 100, `only ${count} .Values reads found: the scan is missing them`);
  });

  it("gives each service only variables it reads, and every setting it requires", () => {
    const defs = defines(read(join(CHART, "templates", "_helpers.tpl")));
    for (const service of SERVICES) {
      const reads = serviceEnvironment(service, REPO);
      const sets = envNames(defs, `oneservice.env.${service}`);
      const unread = sets.filter((name) => !reads.has(name));
      assert.deepEqual(unread, [], `${service}: set by the chart, read by no code`);
      const missing = requiredSettings(service).filter((name) => !sets.includes(name));
      assert.deepEqual(missing, [], `${service}: required settings the chart does not set`);
      assert.equal(new Set(sets).size, sets.length, `${service}: a variable set twice`);
    }
  });

  it("runs files that exist and that the image contains", () => {
    const sources = imageSources(read(join(REPO, "Dockerfile")));
    const run: string[] = [];
    for (const source of templates().values()) {
      for (const m of source.matchAll(/^\s+- ([a-z]+\/main\.ts)$/gm)) run.push(m[1] as string);
      for (const m of source.matchAll(/import\("\/app\/([^"]+)"\)/g)) run.push(m[1] as string);
    }
    assert.deepEqual([...new Set(run)].sort(), [
      "comparator/main.ts",
      "devstack/generator/sellerTierLoader.ts",
      "gateway/main.ts",
      "processor/main.ts",
    ]);
    for (const file of run) {
      assert.ok(existsSync(join(REPO, file)), `${file} does not exist`);
      assert.ok(inImage(file, sources), `${file} is not copied into the image`);
    }
  });
});

describe("monitoring", () => {
  it("the dashboard's queries read series and labels the services export", async () => {
    const exported = await exportedSeries();
    const dashboard = JSON.parse(read(join(CHART, "dashboards", "oneservice.json"))) as unknown;
    const queries: string[] = [];
    const visit = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (isObject(node))
        for (const [key, value] of Object.entries(node)) {
          if ((key === "expr" || key === "definition") && typeof value === "string") queries.push(value);
          else visit(value);
        }
    };
    visit(dashboard);
    assert.ok(queries.length > 30, `only ${queries.length} queries found`);
    const problems = queries.flatMap((q) => seriesProblems(q, exported).map((p) => `${p} in ${q}`));
    assert.deepEqual(problems, []);
  });

  it("the alerts read series and labels the services export, and cover the operator's questions", async () => {
    const exported = await exportedSeries();
    const source = read(join(CHART, "templates", "prometheusrule.yaml"));
    const exprs = alertExpressions(source);
    const names = [...source.matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    assert.equal(exprs.length, names.length, "one expression per alert");
    const problems = exprs.flatMap((e) => seriesProblems(e, exported).map((p) => `${p} in ${e}`));
    assert.deepEqual(problems, []);
    for (const required of [
      "OneServiceLinkDown",
      "OneServiceLinkLagging",
      "OneServiceLinkDiverged",
      "OneServiceFailover",
      "OneServiceGatewayServingStale",
      "OneServiceGatewayErrorRate",
      "OneServiceDeadLetters",
    ])
      assert.ok(names.includes(required), `no ${required} alert`);
  });
});

describe("load test", () => {
  const k6 = join(REPO, "loadtest", "k6");
  it("the TestRun gives the peak script only variables it reads", {
    skip: existsSync(join(k6, "peak.js")) ? false : "loadtest/k6/peak.js is not in this checkout",
  }, () => {
    const reads = new Set<string>();
    for (const file of readdirSync(k6, { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".js")) continue;
      for (const m of read(join(k6, file)).matchAll(/\b(?:__ENV|env)\.([A-Z][A-Z0-9_]*)/g))
        reads.add(m[1] as string);
    }
    const defs = defines(read(join(CHART, "templates", "_helpers.tpl")));
    const sets = envNamesIn(read(join(CHART, "templates", "loadtest.yaml")), defs);
    for (const example of examples().values()) {
      const merged = mergeValues(values(), example) as { loadtest: { env: Record<string, string> } };
      sets.push(...Object.keys(merged.loadtest.env));
    }
    assert.ok(sets.includes("GATEWAY_URL"));
    assert.deepEqual(
      sets.filter((name) => !reads.has(name)),
      [],
    );
  });
});

describe("image", () => {
  it("is built from node:20-bookworm-slim with production dependencies only, and runs as node", () => {
    const dockerfile = read(join(REPO, "Dockerfile"));
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(bases.length >= 2, "multi-stage");
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    assert.ok(
      bases.every((b) => /^\$\{NODE_IMAGE\}$/.test(b ?? "")),
      "every stage on the one base",
    );
    assert.match(dockerfile, /npm ci --omit=dev/);
    const lastUser = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].at(-1)?.[1];
    assert.equal(lastUser, "node");
    for (const source of imageSources(dockerfile))
      assert.ok(existsSync(join(REPO, source)), `COPY ${source}: not in the repository`);
  });

  it("installs with the install scripts, so the image runs the patched kafkajs the tests ran", () => {
    const dockerfile = read(join(REPO, "Dockerfile"));
    const stage = dockerfile.split(/^FROM\s/m)[1] ?? "";
    const install = /^RUN\s+(npm ci[^\n]*)/m.exec(stage)?.[1] ?? "";
    assert.match(install, /^npm ci /, "the dependency stage installs with npm ci");
    assert.doesNotMatch(install, /--ignore-scripts/, "install scripts (postinstall: patch-package) must run");
    const copied = imageSources(stage);
    assert.ok(copied.includes("patches"), "patches/ is in the dependency stage");
    assert.ok(
      stage.indexOf("COPY patches") < stage.indexOf(install),
      "patches/ is copied before the install that applies it",
    );
    const pkg = JSON.parse(read(join(REPO, "package.json"))) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    assert.match(
      pkg.scripts.postinstall ?? "",
      /^patch-package --error-on-fail$/,
      "a patch that fails fails the build",
    );
    if (install.includes("--omit=dev"))
      assert.ok(pkg.dependencies["patch-package"], "patch-package must survive --omit=dev");
    for (const patch of readdirSync(join(REPO, "patches"))) {
      const name = /^(.+)\+[^+]+\.patch$/.exec(patch)?.[1]?.replace("+", "/") ?? "";
      assert.ok(pkg.dependencies[name], `${patch}: patches a production dependency`);
    }
  });

  it(".dockerignore sends everything the Dockerfile copies, and nothing else", () => {
    const patterns = read(join(REPO, ".dockerignore"))
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("#"));
    assert.equal(patterns[0], "*", "everything is excluded first");
    const allowed = patterns.slice(1).map((p) => {
      assert.ok(p.startsWith("!"), `${p}: only exceptions follow *`);
      return p.slice(1).replace(/\/$/, "");
    });
    const copied = imageSources(read(join(REPO, "Dockerfile"))).map((s) => s.replace(/\/$/, ""));
    assert.deepEqual([...allowed].sort(), [...new Set(copied)].sort());
  });
});

/** The `expr` of every rule, with template actions replaced by a number. */
function alertExpressions(source: string): string[] {
  const lines = source.split("\n");
  const out: string[] = [];
  for (const [i, line] of lines.entries()) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(line);
    if (!m) continue;
    let expr = m[2] as string;
    if (expr === ">-" || expr === "|") {
      const indent = (m[1] as string).length;
      const body: string[] = [];
      for (let j = i + 1; j < lines.length; j++) {
        const next = lines[j] as string;
        if (next.trim() !== "" && next.length - next.trimStart().length <= indent) break;
        body.push(next.trim());
      }
      expr = body.join(" ");
    }
    out.push(expr.replace(/\{\{[^}]*\}\}/g, "1"));
  }
  return out;
}
