import { STATUS_CODES } from "node:http";
import type { FastifyPluginAsync, RouteOptions } from "fastify";

// The OpenAPI document, generated from the JSON schemas the routes declare (so it cannot drift from what is
// validated and serialized): an onRoute hook on the root instance collects every route with a schema, and
// /docs/openapi.json and /docs serve what was collected.

type Schema = Record<string, unknown>;

// The documentation keywords routes add to their schemas (Fastify passes them through untouched).
declare module "fastify" {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    security?: Record<string, string[]>[];
    /** Content type of the success response when it is not JSON. */
    produces?: string;
  }
}

interface RouteSchema {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  params?: Schema;
  querystring?: Schema;
  body?: Schema;
  response?: Record<string, Schema>;
  /** Content type of the success response when it is not JSON. */
  produces?: string;
}

interface CollectedRoute {
  method: string;
  path: string;
  schema: RouteSchema;
}

export class OpenApiCollector {
  private readonly routes: CollectedRoute[] = [];

  /** The onRoute hook. HEAD twins of GET routes and routes without a schema are left out. */
  readonly collect = (route: RouteOptions): void => {
    const schema = route.schema as RouteSchema | undefined;
    if (!schema) return;
    for (const method of [route.method].flat()) {
      if (method === "HEAD") continue;
      this.routes.push({ method: method.toLowerCase(), path: route.url.replace(/:(\w+)/g, "{$1}"), schema });
    }
  };

  operations(): CollectedRoute[] {
    return [...this.routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  }

  document(info: { title: string; version: string; description: string }): Schema {
    const paths: Record<string, Record<string, Schema>> = {};
    for (const { method, path, schema } of this.operations()) {
      paths[path] ??= {};
      (paths[path] as Record<string, Schema>)[method] = operation(schema);
    }
    return {
      openapi: "3.0.3",
      info,
      paths,
      components: {
        securitySchemes: {
          apiKey: { type: "apiKey", in: "header", name: "x-api-key" },
          adminToken: { type: "http", scheme: "bearer" },
        },
      },
    };
  }
}

function parameters(where: "path" | "query", schema: Schema | undefined): Schema[] {
  const properties = (schema?.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema?.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

function operation(schema: RouteSchema): Schema {
  const responses: Record<string, Schema> = {};
  for (const [code, body] of Object.entries(schema.response ?? {})) {
    const status = code.toUpperCase();
    const contentType = status.startsWith("2") && schema.produces ? schema.produces : "application/json";
    responses[status] = {
      description: (body.description as string | undefined) ?? STATUS_CODES[code] ?? `${status} responses`,
      content: { [contentType]: { schema: body } },
    };
  }
  return {
    summary: schema.summary,
    ...(schema.description ? { description: schema.description } : {}),
    tags: schema.tags,
    ...(schema.security ? { security: schema.security } : {}),
    parameters: [...parameters("path", schema.params), ...parameters("query", schema.querystring)],
    ...(schema.body
      ? { requestBody: { required: true, content: { "application/json": { schema: schema.body } } } }
      : {}),
    responses,
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const docsRoutes: FastifyPluginAsync<{ collector: OpenApiCollector; version: string }> = async (
  app,
  opts,
) => {
  const info = {
    title: "OneService HA gateway",
    version: opts.version,
    description:
      "Live e-commerce metrics from whichever link is healthy. Data routes take an `x-api-key` header; " +
      "every data response names the link that answered (x-oneservice-link) and the routing version in force " +
      "(x-oneservice-routing-version).",
  };
  // Routes register after this plugin, so both documents are built on first request and kept.
  let json: Schema | undefined;
  let html: string | undefined;

  app.get("/openapi.json", async () => {
    json ??= opts.collector.document(info);
    return json;
  });

  app.get("/", async (_req, reply) => {
    html ??= page(info.title, info.description, opts.collector.operations());
    reply.type("text/html; charset=utf-8");
    return html;
  });
};

function page(title: string, description: string, routes: CollectedRoute[]): string {
  const rows = routes
    .map(({ method, path, schema }) => {
      const params = [...parameters("path", schema.params), ...parameters("query", schema.querystring)]
        .map((p) => `<code>${escapeHtml(String(p.name))}</code>${p.required ? "*" : ""}`)
        .join(" ");
      return `<tr><td class="m">${method.toUpperCase()}</td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(schema.summary ?? "")}</td><td>${params}${schema.body ? " JSON body" : ""}</td></tr>`;
    })
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:.4em .8em;text-align:left;vertical-align:top}.m{font-weight:600}</style>
</head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(description)}</p>
<p>Machine-readable: <a href="/docs/openapi.json">/docs/openapi.json</a> (OpenAPI 3). * = required.</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>parameters</th></tr>
${rows}
</table></body></html>`;
}
