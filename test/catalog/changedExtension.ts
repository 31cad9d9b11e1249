import type { CatalogExtension } from "../../common/metricDef.ts";
import extension, { bigOrders } from "./extension.ts";

// The same extension with big_orders measured differently under the same name (its version bumped): a link
// that holds big_orders of version 1 must refuse to add version 2's counts to them.
const changed: CatalogExtension = {
  ...extension,
  metrics: [...(extension.metrics ?? []).filter((m) => m !== bigOrders), { ...bigOrders, version: 2 }],
};

export default changed;
