import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { CHART, imageSources, inImage, pathProblem, REPO, read, schema, templates, values } from "./chart.ts";
import { exportedSeries, requiredSettings, SERVICES, serviceEnvironment } from "./exported.ts";
import { helm, type KubeObject, renderChart } from "./helm.ts";
import type { Schema } from "./jsonSchema.ts";
import { schemaProblem } from "./kubeSchemas.ts";
import { seriesProblems } from "./promql.ts";
import { RENDER_CASES } from "./renderCases.ts";
import { scanActions, valuesUses } from "./templates.ts";

// The chart checked by a real helm (3.17, from a devDependency: test/helm/helm.ts): `helm lint` and
// `helm template` of every example and of values that switch each optional part, every rendered object
// against its Kubernetes (or Prometheus operator) schema, then the rendered objects against the repository:
// the environment each service is given against what it reads, the files it runs against the image, the
// alerts and the dashboard against the series the services export. Helm renders a .Values path that does
// not exist as empty, even with --strict, so that one check still reads the templates themselves.

const rendered = new Map<string, KubeObject[]>();
before(async () => {
  for (const c of RENDER_CASES) rendered.set(c.name, await renderChart(c.args));
});

const everyObject = () => [...rendered.values()].flat();
const id = (o: KubeObject) => `${o.kind}/${o.metadata.name}`;

interface Container {
  name: string;
  args?: string[];
  env?: { name: string }[];
}

/** The containers of a workload (Deployment, StatefulSet, Job), with what owns them. */
function containers(objects: KubeObject[]): { owner: string; container: Container }[] {
  return objects.flatMap((o) => {
    const pod = (o.spec as { template?: { spec?: { containers?: Container[] } } } | undefined)?.template
      ?.spec;
    return (pod?.containers ?? []).map((container) => ({ owner: id(o), container }));
  });
}

describe("helm", () => {
  for (const c of RENDER_CASES)
    it(`lints clean with ${c.name}`, async () => {
      const out = await helm("lint", "--strict", CHART, ...c.args);
      assert.equal(out.code, 0, `${out.stdout}${out.stderr}`);
    });

  it("renders each case with the objects its values switch on, and without those they switch off", () => {
    for (const c of RENDER_CASES) {
      const ids = new Set((rendered.get(c.name) ?? []).map(id));
      for (const want of c.present) assert.ok(ids.has(want), `${c.name}: no ${want}`);
      for (const unwanted of c.absent) assert.ok(!ids.has(unwanted), `${c.name}: ${unwanted} rendered`);
    }
  });

  it("renders only objects that validate against their Kubernetes or Prometheus operator schema", () => {
    const problems: string[] = [];
    const unknown = new Set<string>();
    for (const [name, objects] of rendered)
      for (const o of objects) {
        const problem = schemaProblem(o);
        if (problem === null) unknown.add(`${o.apiVersion} ${o.kind}`);
        else if (problem !== "") problems.push(`${name}: ${id(o)}: ${problem}`);
      }
    assert.deepEqual(problems, []);
    // The k6 operator publishes no schema package; its TestRun is checked by the load-test test below.
    assert.deepEqual([...unknown], ["k6.io/v1alpha1 TestRun"]);
  });

  it("the schema check catches a wrong object", () => {
    const deployment = everyObject().find((o) => o.kind === "Deployment");
    assert.ok(deployment);
    const wrong = structuredClone(deployment);
    (wrong.spec as { replicas: unknown }).replicas = "three";
    assert.match(schemaProblem(wrong) ?? "", /replicas must be integer/);
  });

  it("refuses values against values.schema.json, and a chart without links, with a message naming them", async () => {
    const threeZones = (set: string) =>
      helm("template", "x", CHART, "--values", join(CHART, "examples", "three-zones.yaml"), "--set", set);
    const bad = await threeZones("gateway.replicas=many");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /gateway\.replicas: Invalid type\. Expected: integer/);
    const typo = await threeZones("gateway.replica=3");
    assert.match(typo.stderr, /Additional property replica is not allowed/);
    const none = await helm(
      "template",
      "x",
      CHART,
      "--set",
      "consul.existingSecret=c",
      "--set",
      "auth.existingSecret=a",
    );
    assert.match(none.stderr, /links: list at least one link/);
  });
});

describe("values", () => {
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
});

describe("rendered workloads", () => {
  it("give each service only variables it reads, and every setting it requires", () => {
    const checked = new Set<string>();
    for (const c of RENDER_CASES) {
      const perLink = new RegExp(`_(${c.links.map((l) => l.toUpperCase()).join("|")})$`);
      for (const { owner, container } of containers(rendered.get(c.name) ?? [])) {
        const service = SERVICES.find((s) => s === container.name);
        if (!service) continue;
        checked.add(service);
        const reads = serviceEnvironment(service, REPO);
        const sets = (container.env ?? []).map((e) => e.name.replace(perLink, "_<ID>"));
        const unread = sets.filter((name) => !reads.has(name));
        assert.deepEqual(unread, [], `${c.name}: ${owner}: set by the chart, read by no code`);
        const missing = requiredSettings(service).filter((name) => !sets.includes(name));
        assert.deepEqual(missing, [], `${c.name}: ${owner}: required settings the chart does not set`);
      }
    }
    assert.deepEqual([...checked].sort(), [...SERVICES].sort(), "a container for every service");
  });

  it("run files that exist and that the image contains", () => {
    const sources = imageSources(read(join(REPO, "Dockerfile")));
    const run = new Set<string>();
    for (const { container } of containers(everyObject()))
      for (const arg of container.args ?? []) {
        if (/^[a-z]+\/main\.ts$/.test(arg)) run.add(arg);
        for (const m of arg.matchAll(/import\("\/app\/([^"]+)"\)/g)) run.add(m[1] as string);
      }
    assert.deepEqual([...run].sort(), [
      "comparator/main.ts",
      "gateway/main.ts",
      "processor/main.ts",
      "processor/sellerTierLoader.ts",
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
      else if (node !== null && typeof node === "object")
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
    const rule = everyObject().find((o) => o.kind === "PrometheusRule");
    assert.ok(rule, "no PrometheusRule rendered");
    const rules = (rule.spec as { groups: { rules: { alert?: string; expr: string }[] }[] }).groups.flatMap(
      (g) => g.rules,
    );
    const problems = rules.flatMap((r) => seriesProblems(r.expr, exported).map((p) => `${p} in ${r.expr}`));
    assert.deepEqual(problems, []);
    const names = rules.map((r) => r.alert);
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
  it("the TestRun gives the peak script only variables its k6 scripts read", () => {
    const k6 = join(REPO, "loadtest", "k6");
    const reads = new Set<string>();
    for (const file of readdirSync(k6, { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".js")) continue;
      for (const m of read(join(k6, file)).matchAll(/\b(?:__ENV|env)\.([A-Z][A-Z0-9_]*)/g))
        reads.add(m[1] as string);
    }
    const runs = everyObject().filter((o) => o.kind === "TestRun");
    assert.ok(runs.length > 0, "no TestRun rendered");
    for (const run of runs) {
      const spec = run.spec as {
        script: { configMap: { file: string } };
        runner: { env: { name: string }[] };
      };
      assert.equal(spec.script.configMap.file, "peak.tar");
      const sets = spec.runner.env.map((e) => e.name);
      assert.ok(sets.includes("GATEWAY_URL"));
      assert.deepEqual(
        sets.filter((name) => !reads.has(name)),
        [],
      );
    }
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
