import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "./httpErrors.ts";
import type { GatewayMetrics } from "./metrics.ts";

// Who is calling: an API key per calling application (x-api-key) for the data routes, one admin token
// (Authorization: Bearer) for /admin. API keys are found by hash lookup, which leaves no prefix comparison
// to time; the admin token is compared by SHA-256 digest in constant time.

function digest(secret: string): string {
  return createHash("sha256").update(secret).digest("base64");
}

/**
 * A token bucket per application: `perSecond` tokens a second, up to one second's worth saved up, so an
 * application may burst to its limit but not above it for long. Memory: one bucket per configured app.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {}

  /** Takes a token for `app`: 0 when the request may go, else the seconds until one is free. */
  take(app: string): number {
    if (this.perSecond === 0) return 0;
    const now = this.now();
    const bucket = this.buckets.get(app) ?? { tokens: this.perSecond, at: now };
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(app, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }
}

/** onRequest hook of the data routes: authenticate the application, then apply its rate limit. */
export function apiKeyAuth(apiKeys: Record<string, string>, limiter: RateLimiter, metrics: GatewayMetrics) {
  const appByKey = new Map(Object.entries(apiKeys).map(([app, key]) => [key, app]));
  const refusal = (req: FastifyRequest): ApiError | undefined => {
    const key = req.headers["x-api-key"];
    if (typeof key !== "string" || key === "")
      return new ApiError(401, "x-api-key header required", "x-api-key");
    const app = appByKey.get(key);
    if (app === undefined) return new ApiError(403, "unknown API key", "x-api-key");
    req.app = app;
    const wait = limiter.take(app);
    if (wait === 0) return undefined;
    metrics.rateLimited.inc({ app });
    return new ApiError(429, `rate limit of application ${app} exceeded`, undefined, wait);
  };
  // A callback hook rather than an async one: it runs on every request, and a promise per request shows.
  return (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
    done(refusal(req));
  };
}

/** onRequest hook of the admin routes. */
export function adminAuth(token: string) {
  const expected = Buffer.from(digest(token));
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization;
    const presented = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : "";
    if (presented === "")
      throw new ApiError(401, "Authorization: Bearer <admin token> required", "authorization");
    if (!timingSafeEqual(Buffer.from(digest(presented)), expected)) {
      throw new ApiError(403, "wrong admin token", "authorization");
    }
    req.app = "admin";
  };
}
