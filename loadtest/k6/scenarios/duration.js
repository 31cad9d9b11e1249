// k6's duration strings ("500ms", "20s", "1m30s", "2h") in milliseconds, for the Node runner and for the
// k6 options derived from a description.

/** @import { Load } from "./types.ts" */

/** @type {Record<string, number>} */
const UNIT_MS = { ms: 1, s: 1000, m: 60000, h: 3600000 };

/**
 * @param {string} text
 * @returns {number}
 */
export function durationMs(text) {
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let ms = 0;
  let read = "";
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    ms += Number(m[1]) * UNIT_MS[m[2]];
    read += m[0];
  }
  if (read === "" || read !== text)
    throw new Error(`not a duration: ${JSON.stringify(text)} (e.g. 500ms, 20s, 1m30s, 2h)`);
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
