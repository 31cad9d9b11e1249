import type { CatalogExtension } from "../../common/metricDef.ts";
import { visits } from "./extension.ts";

// A registered source whose topic the link's Kafka does not have: a processor must refuse to start, naming it.
const extension: CatalogExtension = {
  sources: [{ ...visits, name: "clicks", topics: visits.topics.map((t) => ({ ...t, name: "web.clicks" })) }],
};

export default extension;
