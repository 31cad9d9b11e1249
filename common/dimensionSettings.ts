import { str } from "./config.ts";

// Where the small dimension table lives: read by every processor, and by every repair (run by an operator or
// by the comparator), which must compute exactly what the processors do.
export const categoryFileSetting = str({
  env: "DIM_CATEGORY_FILE",
  default: ".devstack/dims/category_industry.json",
  doc: "JSON {categoryId: industry}; processors reload it when it changes. A repair reads the same file.",
});
