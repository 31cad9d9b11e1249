import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../common/logger.ts";

// One error shape for every refusal: {statusCode, error, message, field?}, where `field` names the
// parameter at fault (`n`, `dim`, `reads.2.metric`) so a caller can fix its request without reading logs.

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const errorSchema = {
  type: "object",
  properties: {
    statusCode: { type: "integer" },
    error: { type: "string" },
    message: { type: "string" },
    field: { type: "string" },
  },
  required: ["statusCode", "error", "message"],
} as const;

/** Declared on every route: what a refusal looks like (and what the OpenAPI document shows). */
export const errorResponses = { "4xx": errorSchema, "5xx": errorSchema } as const;

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  field?: string;
}

function body(statusCode: number, message: string, field?: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? "Error", message, ...(field ? { field } : {}) };
}

/** The parameter an Ajv error is about: the missing or extra property, or the path of the bad value. */
function fieldOf(err: FastifyError): string {
  const first = err.validation?.[0];
  const params = (first?.params ?? {}) as { missingProperty?: string; additionalProperty?: string };
  const path = (first?.instancePath ?? "").split("/").filter(Boolean);
  const leaf = params.missingProperty ?? params.additionalProperty;
  if (leaf) path.push(leaf);
  return path.join(".") || (err.validationContext ?? "request");
}

export function errorHandler(log: Logger) {
  return (err: FastifyError | ApiError, _req: FastifyRequest, reply: FastifyReply): ErrorBody => {
    if (err instanceof ApiError) {
      if (err.retryAfterSeconds !== undefined) reply.header("retry-after", String(err.retryAfterSeconds));
      reply.code(err.statusCode);
      return body(err.statusCode, err.message, err.field);
    }
    if (err.validation) {
      const field = fieldOf(err);
      const first = err.validation[0];
      const problem = first?.keyword === "additionalProperties" ? "is not a known parameter" : first?.message;
      reply.code(400);
      return body(400, `${field} ${problem ?? "is invalid"}`, field);
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      reply.code(status);
      return body(status, err.message);
    }
    log.error({ err }, "request failed");
    reply.code(500);
    return body(500, "internal error");
  };
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): void {
  const path = (req.url.split("?")[0] ?? "").slice(0, 200);
  reply.code(404).send(body(404, `no route ${req.method} ${path}`));
}
