import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isObject, resolveRef, type Schema } from "./jsonSchema.ts";
import { parseYaml, type YamlValue } from "./yaml.ts";

// The chart's files as the checks read them.

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CHART = join(REPO, "helm", "oneservice");

export function read(path: string): string {
  return readFileSync(path, "utf8");
}

export const schema = (): Schema => JSON.parse(read(join(CHART, "values.schema.json"))) as Schema;
export const values = (): YamlValue => parseYaml(read(join(CHART, "values.yaml")));

/** Template file name -> source. */
export function templates(): Map<string, string> {
  const dir = join(CHART, "templates");
  return new Map(readdirSync(dir).map((f) => [f, read(join(dir, f))]));
}

/**
 * Why a .Values path does not exist, or null when it does. Up to the first list element ("*") it must be in
 * values.yaml, so every value a template reads has a default there; beyond it, in the schema, because list
 * entries (such as links) come from the operator.
 */
export function pathProblem(path: string[], defaults: YamlValue, root: Schema): string | null {
  let node: Schema = root;
  let value: YamlValue | undefined = defaults;
  for (const [i, segment] of path.entries()) {
    const at = path.slice(0, i + 1).join(".");
    node = resolveRef(root, node);
    let next: Schema | undefined;
    if (segment === "*") {
      next =
        node.items ?? (typeof node.additionalProperties === "object" ? node.additionalProperties : undefined);
      value = undefined;
    } else {
      next =
        node.properties?.[segment] ??
        (typeof node.additionalProperties === "object" ? node.additionalProperties : undefined);
      if (value !== undefined) {
        if (!isObject(value) || !Object.hasOwn(value, segment)) return `${at} is not in values.yaml`;
        value = value[segment];
      }
    }
    if (!next) return `${at} is not in values.schema.json`;
    node = next;
  }
  return null;
}

/** Paths the Dockerfile copies from the build context into the image. */
export function imageSources(dockerfile: string): string[] {
  const sources: string[] = [];
  for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)) {
    const words = (m[1] as string)
      .trim()
      .split(/\s+/)
      .filter((w) => !w.startsWith("--"));
    sources.push(...words.slice(0, -1));
  }
  return sources;
}

/** Whether a repository file is in the image: copied itself, or inside a copied folder. */
export function inImage(file: string, sources: string[]): boolean {
  return sources.some((s) => file === s || file.startsWith(`${s.replace(/\/$/, "")}/`));
}
