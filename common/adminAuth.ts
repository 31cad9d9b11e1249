import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import { bool, int, str } from "./config.ts";
import { errorBody } from "./httpErrors.ts";

// What the gateway and the comparator share about who may act: the admin token's setting, the refusal to run
// with the development credentials anywhere but on one machine, one admin-auth hook (same statuses, same JSON
// body in both services), and the throttle on failed authentication per client address.

export const DEV_ADMIN_TOKEN = "dev-admin-token";
export const DEV_API_KEY = "dev-api-key";

export const credentialSettings = {
  adminToken: str({
    env: "ADMIN_TOKEN",
    default: DEV_ADMIN_TOKEN,
    pattern: /^[\x21-\x7e]{8,256}$/,
    doc: "Admin bearer token (8-256 printable characters). The default is refused unless the service listens on loopback only or DEV_MODE is set.",
  }),
  devMode: bool({
    env: "DEV_MODE",
    default: false,
    doc: "Accept the development credentials (dev-admin-token, dev-api-key) on a non-loopback address. Never in production.",
  }),
  authFailuresPerMinute: int({
    env: "AUTH_FAILURES_PER_MINUTE",
    default: 20,
    min: 1,
    max: 100_000,
    doc: "Failed authentications a client address may make in a minute; the next get 429 with Retry-After until the minute ends.",
  }),
};

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/**
 * Why the service must not start with these credentials: the development defaults are public, so they are
 * accepted only on loopback or with DEV_MODE set. Empty when it may start.
 */
export function credentialProblems(opts: {
  host: string;
  hostEnv: string;
  devMode: boolean;
  secrets: { env: string; values: readonly string[]; dev: string }[];
}): string[] {
  if (opts.devMode || isLoopback(opts.host)) return [];
  return opts.secrets
    .filter((s) => s.values.includes(s.dev))
    .map(
      (s) =>
        `${s.env} holds the development default ${JSON.stringify(s.dev)} while ${opts.hostEnv}=${opts.host} is not loopback: set your own, or DEV_MODE=true on a machine nobody else reaches`,
    );
}

const WINDOW_MS = 60_000;

/**
 * Failed authentications counted per client address in fixed one-minute windows. An address over the limit
 * is refused until its window ends, and only that address: the others keep their own counts. The map is
 * bounded: when full, the address whose window started first is forgotten (Map keeps insertion order), so a
 * flood of addresses costs memory up to the bound and no more. @fastify/rate-limit counts every request, not
 * only failed ones, which would throttle a busy caller that authenticates fine.
 */
export class AuthThrottle {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly limit: number,
    private readonly now: () => number = Date.now,
    private readonly maxAddresses = 10_000,
  ) {}

  /** Seconds until `address` may try again, or 0. */
  retryAfter(address: string): number {
    const w = this.current(address);
    if (!w || w.failures < this.limit) return 0;
    return Math.max(1, Math.ceil((w.start + WINDOW_MS - this.now()) / 1000));
  }

  fail(address: string): void {
    const now = this.now();
    let w = this.current(address);
    if (!w) {
      w = { start: now, failures: 0 };
      if (this.windows.size >= this.maxAddresses) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      this.windows.set(address, w);
    }
    w.failures += 1;
  }

  get size(): number {
    return this.windows.size;
  }

  private current(address: string): { start: number; failures: number } | undefined {
    const w = this.windows.get(address);
    if (w && this.now() - w.start >= WINDOW_MS) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret).digest();
}

/** Constant-time comparison of a presented secret with the expected one's digest. */
export function secretMatches(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(presented), expected);
}

const FIELD = { field: "authorization" };

/**
 * onRequest hook of admin routes: 429 (with Retry-After) for an address over its failure limit, 401 without
 * a bearer token, 403 for a wrong one. `onFailure` counts a refusal in the service's metrics.
 */
export function adminAuth(
  token: string,
  throttle: AuthThrottle,
  onFailure: (status: 401 | 403 | 429) => void,
) {
  const expected = digest(token);
  return (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const wait = throttle.retryAfter(req.ip);
    if (wait > 0) {
      onFailure(429);
      reply
        .code(429)
        .header("retry-after", String(wait))
        .send(errorBody("auth_throttled", "too many failed authentications from this address", FIELD));
      return;
    }
    const header = req.headers.authorization;
    const presented = typeof header === "string" && header.startsWith("Bearer ") ? header.slice(7) : "";
    if (presented === "" || !secretMatches(presented, expected)) {
      throttle.fail(req.ip);
      const status = presented === "" ? 401 : 403;
      onFailure(status);
      reply
        .code(status)
        .header("www-authenticate", "Bearer")
        .send(
          status === 401
            ? errorBody("credential_required", "Authorization: Bearer <admin token> required", FIELD)
            : errorBody("credential_wrong", "wrong admin token", FIELD),
        );
      return;
    }
    done();
  };
}
