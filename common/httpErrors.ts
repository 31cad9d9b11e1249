import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { FromSchema } from "json-schema-to-ts";
import type { Logger } from "./logger.ts";

// One error shape for every refusal of both services: {statusCode, code, error, message, field?, ...}, where
// `code` is a stable machine-readable name from the table below (callers branch on it, not on the wording),
// `error` the HTTP reason phrase, and `field` the parameter at fault (`n`, `dim`, `reads.2.metric`,
// `authorization`) so a caller can fix its request without reading logs. Like Fastify's own errors table,
// each code has one status.

export const ERROR_CODES = {
  /** A parameter or body field breaks its schema or a rule; `field` names it. */
  invalid_request: 400,
  /** No credential: the x-api-key header or the admin bearer token. */
  credential_required: 401,
  /** A credential that is not known. */
  credential_wrong: 403,
  unknown_metric: 404,
  unknown_dimension: 404,
  /** The metric exists but is not kept by that dimension (for that window). */
  dimension_not_kept: 404,
  no_route: 404,
  body_too_large: 413,
  unsupported_media_type: 415,
  /** The application's request rate is over its limit; Retry-After says when to come back. */
  rate_limited: 429,
  /** Too many failed authentications from the caller's address; Retry-After says when it may try again. */
  auth_throttled: 429,
  /** The application has EXPENSIVE_READS_PER_APP reads costing more than one token in flight already. */
  expensive_reads_busy: 429,
  internal_error: 500,
  /** No link answered and nothing recent enough is known to serve stale. */
  no_link_available: 503,
  too_many_streams: 503,
  // The comparator's operator commands and repairs.
  no_change: 409,
  target_not_healthy: 409,
  routing_changed: 409,
  routing_usable: 409,
  repair_running: 409,
  not_leader: 503,
  routing_unavailable: 503,
  consul_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes of errors raised by Fastify itself or by Node (body limits, content types, bad JSON), by status. */
const FRAMEWORK_CODES: Record<number, ErrorCode> = {
  404: "no_route",
  413: "body_too_large",
  415: "unsupported_media_type",
};

export const errorSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    statusCode: { type: "integer" },
    code: { type: "string", enum: Object.keys(ERROR_CODES) as ErrorCode[] },
    error: { type: "string", description: "The HTTP reason phrase" },
    message: { type: "string" },
    field: { type: "string", description: "The parameter at fault" },
    evidence: {
      type: "object",
      additionalProperties: true,
      description: "Why, for a refusal that has evidence (a target link that is not healthy)",
    },
    leader: {
      type: ["object", "null"],
      additionalProperties: false,
      properties: { id: { type: "string" }, url: { type: "string" }, since: { type: "string" } },
      required: ["id", "url", "since"],
      description:
        "Who holds the comparator's leader lock, for a refusal by a replica that is not the leader",
    },
  },
  required: ["statusCode", "code", "error", "message"],
} as const;

export type ErrorBody = FromSchema<typeof errorSchema>;
export type ErrorDetails = Pick<ErrorBody, "field" | "evidence" | "leader">;

export function errorBody(code: ErrorCode, message: string, details: ErrorDetails = {}): ErrorBody {
  const statusCode = ERROR_CODES[code];
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? "Error", message, ...details };
}

export class ApiError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = "ApiError";
    this.statusCode = ERROR_CODES[code];
  }
}

/** Declared on every route: what a refusal looks like (and what the OpenAPI document shows). */
export const errorResponses = { "4xx": errorSchema, "5xx": errorSchema } as const;

/** The parameter an Ajv error is about: the missing or extra property, or the path of the bad value. */
function fieldOf(err: FastifyError): string {
  const first = err.validation?.[0];
  const params = (first?.params ?? {}) as { missingProperty?: string; additionalProperty?: string };
  const path = (first?.instancePath ?? "").split("/").filter(Boolean);
  const leaf = params.missingProperty ?? params.additionalProperty;
  if (leaf) path.push(leaf);
  return path.join(".") || (err.validationContext ?? "request");
}

function send(reply: FastifyReply, body: ErrorBody): ErrorBody {
  reply.code(body.statusCode);
  return body;
}

export function errorHandler(log: Logger) {
  return (err: FastifyError | ApiError, _req: FastifyRequest, reply: FastifyReply): ErrorBody => {
    if (err instanceof ApiError) {
      if (err.retryAfterSeconds !== undefined) reply.header("retry-after", String(err.retryAfterSeconds));
      return send(reply, errorBody(err.code, err.message, err.field ? { field: err.field } : {}));
    }
    if (err.validation) {
      const field = fieldOf(err);
      const first = err.validation[0];
      const problem = first?.keyword === "additionalProperties" ? "is not a known parameter" : first?.message;
      return send(reply, errorBody("invalid_request", `${field} ${problem ?? "is invalid"}`, { field }));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // A framework refusal keeps its own status; its code is the one for that status, else invalid_request.
      const field = (err as { field?: string }).field;
      const body = errorBody(
        FRAMEWORK_CODES[status] ?? "invalid_request",
        err.message,
        field ? { field } : {},
      );
      reply.code(status);
      return { ...body, statusCode: status, error: STATUS_CODES[status] ?? "Error" };
    }
    log.error({ err }, "request failed");
    return send(reply, errorBody("internal_error", "internal error"));
  };
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply): void {
  const path = (req.url.split("?")[0] ?? "").slice(0, 200);
  reply.code(404).send(errorBody("no_route", `no route ${req.method} ${path}`));
}
