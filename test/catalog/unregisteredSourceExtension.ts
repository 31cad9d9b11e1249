import { type CatalogExtension, metric } from "../../common/metricDef.ts";

// A metric over a source nobody registered: every service must refuse to start, naming it.
const extension: CatalogExtension = {
  metrics: [
    metric({
      name: "clicks",
      title: "Clicks",
      unit: "events",
      kind: "count",
      source: "clicks",
      fact: "click",
      dims: ["all"],
      minuteDims: [],
      cumulative: true,
      measure: () => 1,
    }),
  ],
};

export default extension;
