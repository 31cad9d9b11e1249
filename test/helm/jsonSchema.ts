// The parts of JSON Schema that the checks read in values.schema.json (helm itself validates values against
// it): the shape of a schema, its local references.

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

/** Follows a local `#/$defs/name` reference. */
export function resolveRef(root: Schema, schema: Schema): Schema {
  if (schema.$ref === undefined) return schema;
  const name = /^#\/\$defs\/([\w-]+)$/.exec(schema.$ref)?.[1];
  const target = name === undefined ? undefined : root.$defs?.[name];
  if (!target) throw new Error(`unsupported or dangling $ref ${schema.$ref}`);
  return target;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
