import { badEventTime, badId, type Json, parserOf } from "../../common/events.ts";
import { type CatalogExtension, metric } from "../../common/metricDef.ts";
import { type Fact, type SourceDef, topic } from "../../common/sources/source.ts";
import type { PaidOrderFact } from "../../common/sources/trade.ts";

// A catalog extension that exists only in the tests, written as the README's recipe says: a new source (page
// visits, one topic, no join state) with its metric, and a new metric over an existing source's facts.

export interface VisitEvent {
  visitId: string;
  page: string;
  eventTime: number;
}

export interface VisitFact extends Fact {
  kind: "visit";
  dims: { all: "all"; page: string };
}

export const VISITS_TOPIC = "web.visits";

function visitProblem(o: Json): string | null {
  if (badId(o, "visitId")) return "invalid_visitId";
  if (badId(o, "page")) return "invalid_page";
  if (badEventTime(o)) return "invalid_eventTime";
  return null;
}

export const visits: SourceDef = {
  name: "visits",
  title: "Page visits",
  topics: [
    topic<VisitEvent>({
      name: VISITS_TOPIC,
      parse: parserOf<VisitEvent>(visitProblem),
      stateId: () => null,
      onRecord: (ctx, e, late) => {
        const fact: VisitFact = { kind: "visit", time: e.eventTime, dims: { all: "all", page: e.page } };
        ctx.emit(fact, !late);
      },
    }),
  ],
  state: [],
  facts: ["visit"],
  dims: { all: "Everything (the key is `all`)", page: "Page id" },
  lookups: [],
  maxRatePerPartition: 0,
};

export const bigOrders = metric<PaidOrderFact>({
  name: "big_orders",
  title: "Paid orders of 100.00 or more",
  unit: "orders",
  kind: "count",
  source: "trade",
  fact: "paid_order",
  dims: ["all", "industry"],
  minuteDims: ["all"],
  cumulative: true,
  measure: (f) => (f.amount >= 100_00 ? 1 : null),
});

const extension: CatalogExtension = {
  sources: [visits],
  metrics: [
    metric<VisitFact>({
      name: "visits",
      title: "Page visits",
      unit: "events",
      kind: "count",
      source: "visits",
      fact: "visit",
      dims: ["all", "page"],
      minuteDims: ["all"],
      cumulative: true,
      measure: () => 1,
    }),
    bigOrders,
  ],
  derived: [
    {
      name: "visits_per_order",
      title: "Visits per paid order",
      op: "ratio",
      of: ["visits", "paid_orders"],
      scale: 1,
      unit: "ratio",
    },
  ],
};

export default extension;
