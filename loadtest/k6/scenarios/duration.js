// k6's duration strings ("500ms", "20s", "1m30s", "2h") in milliseconds, for the Node runner and for the
// k6 options derived from a description.

/** @import { Load } from "./types.ts" */

/** @type {Record<string, number>} */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * @param {string} text
 * @returns {number}
 */
export function durationMs(text) {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text)
    throw new Error(`not a duration: ${JSON.stringify(text)} (e.g. 500ms, 20s, 1m30s, 2h)`);
  let ms = 0;
  for (const p of parts) ms += Number(p[1]) * UNIT_MS[p[2]];
  return ms;
}

/**
 * How long the load of a description lasts.
 * @param {Load} load
 */
export function loadDurationMs(load) {
  if (load.executor === "constant-arrival-rate") return durationMs(load.duration);
  let ms = 0;
  for (const stage of load.stages) ms += durationMs(stage.duration);
  return ms;
}
