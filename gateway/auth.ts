import type { FastifyRequest } from "fastify";
import type { AuthThrottle } from "../common/adminAuth.ts";
import { ApiError } from "../common/httpErrors.ts";
import type { GatewayMetrics } from "./metrics.ts";

// Who is calling on the data routes: an API key per calling application (x-api-key), found by hash lookup,
// which leaves no prefix comparison to time. The admin routes use common/adminAuth.ts, as the comparator does.

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

  /**
   * Takes `cost` tokens for `app`: 0 when the request may go, else the seconds until they are there. A cost
   * above one second's worth is charged as one second's worth: it empties the bucket but stays possible.
   */
  take(app: string, cost = 1): number {
    if (this.perSecond === 0) return 0;
    const need = Math.min(cost, this.perSecond);
    const now = this.now();
    const bucket = this.buckets.get(app) ?? { tokens: this.perSecond, at: now };
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(app, bucket);
    if (bucket.tokens >= need) {
      bucket.tokens -= need;
      return 0;
    }
    return Math.max(1, Math.ceil((need - bucket.tokens) / this.perSecond));
  }
}

/** Charges `app` for `cost` tokens of its rate limit, or throws the 429 saying when to come back. */
export type Charge = (app: string, cost: number) => void;

export function charger(limiter: RateLimiter, metrics: GatewayMetrics): Charge {
  return (app, cost) => {
    const wait = limiter.take(app, cost);
    if (wait === 0) return;
    metrics.rateLimited.inc({ app });
    throw new ApiError("rate_limited", `rate limit of application ${app} exceeded`, undefined, wait);
  };
}

/**
 * The check of the data routes' onRequest hook: refuse an address over its failed-authentication limit,
 * authenticate the application (setting req.app), then apply its rate limit. Gives the refusal, or undefined
 * when the request may go on. A plain function rather than a hook: the hook (gateway/app.ts) answers from the
 * answer cache right after it, and a callback or promise per request shows.
 */
export function apiKeyAuth(
  apiKeys: Record<string, string>,
  charge: Charge,
  throttle: AuthThrottle,
  metrics: GatewayMetrics,
) {
  const appByKey = new Map(Object.entries(apiKeys).map(([app, key]) => [key, app]));
  const failed = (req: FastifyRequest, status: 401 | 403, message: string): ApiError => {
    throttle.fail(req.ip);
    metrics.authFailures.inc({ status: String(status) });
    return new ApiError(status === 401 ? "credential_required" : "credential_wrong", message, "x-api-key");
  };
  const refusal = (req: FastifyRequest): ApiError | undefined => {
    const blocked = throttle.retryAfter(req.ip);
    if (blocked > 0) {
      metrics.authFailures.inc({ status: "429" });
      return new ApiError(
        "auth_throttled",
        "too many failed authentications from this address",
        "x-api-key",
        blocked,
      );
    }
    const key = req.headers["x-api-key"];
    if (typeof key !== "string" || key === "") return failed(req, 401, "x-api-key header required");
    const app = appByKey.get(key);
    if (app === undefined) return failed(req, 403, "unknown API key");
    req.app = app;
    try {
      charge(app, 1);
      return undefined;
    } catch (err) {
      return err as ApiError;
    }
  };
  return refusal;
}
