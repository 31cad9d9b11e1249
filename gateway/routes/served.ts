import type { FastifyReply } from "fastify";
import type { BusinessClock } from "../../common/businessTime.ts";
import type { Charge } from "../auth.ts";
import type { ExpensiveReads } from "../expensiveReads.ts";
import type { MetricReader, Served } from "../metricReader.ts";

// What the data routes share: their dependencies, the headers naming the link that answered, and the
// response fields that say how fresh an answer is.

export interface DataRouteOptions {
  reader: MetricReader;
  clock: BusinessClock;
  now: () => number;
  /** Days before today a date parameter may name (what the links keep). */
  historyDays: number;
  /** Charges the calling application for what a read costs beyond the one token every request takes. */
  charge: Charge;
  /** Each application's slots for reads that cost more than one token. */
  expensiveReads: ExpensiveReads;
}

export const LINK_HEADER = "x-oneservice-link";
export const ROUTING_VERSION_HEADER = "x-oneservice-routing-version";

export function setServedHeaders(
  reply: FastifyReply,
  served: Pick<Served<unknown>, "link" | "routingVersion">,
): void {
  reply.header(LINK_HEADER, served.link);
  reply.header(ROUTING_VERSION_HEADER, String(served.routingVersion));
}

/** Sets the served-by headers and gives the body: the answer's fields plus asOf, link, stale and complete. */
export function answer<T extends object>(reply: FastifyReply, served: Served<T>) {
  setServedHeaders(reply, served);
  return {
    ...served.data,
    asOf: served.asOf,
    link: served.link,
    stale: served.stale,
    complete: served.complete,
    staleSince: served.staleSince,
  };
}

export const apiKeySecurity = [{ apiKey: [] }];

export const servedProperties = {
  asOf: {
    type: ["string", "null"],
    description: "The answering link's watermark: every event up to this time is in the value",
  },
  link: { type: "string", description: "The link that answered" },
  stale: {
    type: "boolean",
    description:
      "A last-known value (no link answered), a value held up by the no-dip guard, or the link's data stopped (see staleSince)",
  },
  staleSince: {
    type: ["string", "null"],
    description:
      "When the answering link's data stopped advancing (or the comparator judged it down); null while it advances",
  },
  complete: {
    type: "boolean",
    description:
      "false when the answering link does not hold the asked day of the metric whole: a metric added to a running link counts from when it was added until it is backfilled",
  },
} as const;
