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

/** The example values files, by file name. */
export function examples(): Map<string, YamlValue> {
  const dir = join(CHART, "examples");
  return new Map(readdirSync(dir).map((f) => [f, parseYaml(read(join(dir, f)))]));
}

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

/** An override file on top of the defaults, as Helm merges them: maps key by key, anything else replaced. */
export function mergeValues(defaults: YamlValue, override: YamlValue): YamlValue {
  if (!isObject(defaults) || !isObject(override)) return override;
  const out: Record<string, YamlValue> = { ...defaults };
  for (const [key, value] of Object.entries(override)) {
    const base = out[key];
    out[key] = base === undefined ? value : mergeValues(base, value);
  }
  return out;
}

/**
 * Environment variable names a define of _helpers.tpl sets, following its includes of other env defines.
 * A name ending in a template action (KAFKA_BROKERS_{{ upper $link.id }}) is returned as NAME_<ID>; names that
 * come whole from values (the env maps) are left out, since values are checked on their own.
 */
export function envNames(defs: Map<string, string>, name: string): string[] {
  const body = defs.get(name);
  if (body === undefined) throw new Error(`no define ${name}`);
  return envNamesIn(body, defs);
}

/** The same for a template's text. */
export function envNamesIn(text: string, defs: Map<string, string>): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/^\s*- name: ([A-Z][A-Z0-9_]*)(\{\{[^}]*\}\})?\s*$/gm))
    names.push(m[2] === undefined ? (m[1] as string) : `${m[1]}<ID>`);
  for (const m of text.matchAll(/include "(oneservice\.env\.[\w.]+)"/g))
    names.push(...envNames(defs, m[1] as string));
  return names;
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
