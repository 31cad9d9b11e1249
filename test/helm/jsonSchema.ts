// A JSON-schema validator for the keywords values.schema.json uses, and only those: a schema with any other
// keyword is refused, so the chart cannot lean on a rule this check would silently skip.

export interface Schema {
  $schema?: string;
  $defs?: Record<string, Schema>;
  $ref?: string;
  title?: string;
  description?: string;
  type?: JsonType | JsonType[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  propertyNames?: Schema;
  items?: Schema;
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

type JsonType = "object" | "array" | "string" | "integer" | "number" | "boolean" | "null";

const KEYWORDS = new Set([
  "$schema",
  "$defs",
  "$ref",
  "title",
  "description",
  "type",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "enum",
  "pattern",
  "minimum",
  "maximum",
]);

/** Problems of `value` against `schema`, each naming the path of the offending value; empty when valid. */
export function validate(root: Schema, value: unknown): string[] {
  const problems: string[] = [];
  check(root, root, value, "$", problems);
  return problems;
}

/** Follows a local `#/$defs/name` reference. */
export function resolveRef(root: Schema, schema: Schema): Schema {
  if (schema.$ref === undefined) return schema;
  const name = /^#\/\$defs\/([\w-]+)$/.exec(schema.$ref)?.[1];
  const target = name === undefined ? undefined : root.$defs?.[name];
  if (!target) throw new Error(`unsupported or dangling $ref ${schema.$ref}`);
  return target;
}

function check(root: Schema, schemaIn: Schema, value: unknown, path: string, problems: string[]): void {
  const unknown = Object.keys(schemaIn).filter((k) => !KEYWORDS.has(k));
  if (unknown.length > 0)
    throw new Error(`schema at ${path} uses unsupported keywords: ${unknown.join(", ")}`);
  const schema = resolveRef(root, schemaIn);
  if (schema !== schemaIn) {
    check(root, schema, value, path, problems);
    return;
  }

  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => hasType(value, t))) {
      problems.push(`${path}: expected ${types.join(" or ")}, got ${describe(value)}`);
      return;
    }
  }
  if (schema.enum && !schema.enum.some((e) => e === value))
    problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (
    typeof value === "string" &&
    schema.pattern !== undefined &&
    !new RegExp(schema.pattern, "u").test(value)
  )
    problems.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push(`${path}: ${value} is below the minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push(`${path}: ${value} is above the maximum ${schema.maximum}`);
  }
  if (Array.isArray(value) && schema.items) {
    for (const [i, item] of value.entries()) check(root, schema.items, item, `${path}[${i}]`, problems);
  }
  if (isObject(value)) checkObject(root, schema, value, path, problems);
}

function checkObject(
  root: Schema,
  schema: Schema,
  value: Record<string, unknown>,
  path: string,
  problems: string[],
): void {
  for (const key of schema.required ?? []) {
    if (!Object.hasOwn(value, key)) problems.push(`${path}: ${key} is required`);
  }
  for (const [key, item] of Object.entries(value)) {
    const at = `${path}.${key}`;
    if (schema.propertyNames) check(root, schema.propertyNames, key, `${at} (name)`, problems);
    const declared = schema.properties?.[key];
    if (declared) check(root, declared, item, at, problems);
    else if (schema.additionalProperties === false) problems.push(`${at}: not declared in the schema`);
    else if (typeof schema.additionalProperties === "object")
      check(root, schema.additionalProperties, item, at, problems);
  }
}

function hasType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "null":
      return value === null;
    default:
      return typeof value === type;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return `${typeof value} ${JSON.stringify(value)}`.slice(0, 80);
}
