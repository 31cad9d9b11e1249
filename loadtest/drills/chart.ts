import { writeFile } from "node:fs/promises";
import { launchHeadlessChromium } from "../../harness/headlessChromium.ts";
import type { Timeline, TimelineEvent } from "./timeline.ts";

// A drill's timeline as an SVG chart in a small HTML page, and the same page as a PNG through headless
// Chromium (no chart library needed): each link's GMV as a line, the GMV served to callers as dots in the
// colour of the link that answered (hollow when flagged stale), and the drill's moments as vertical lines.

const WIDTH = 1100;
const HEIGHT = 520;
const MARGIN = { left: 110, right: 20, top: 80, bottom: 50 };
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"];

export const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const LABEL_ROW = 13;
const LABEL_CHAR_PX = 6;

/** Each event's label on the lowest row where it does not run into the label before it. */
function labelRows(events: readonly TimelineEvent[], x: (t: number) => number) {
  const rowEnds: number[] = [];
  return [...events]
    .sort((a, b) => a.t - b.t)
    .map((e) => {
      const start = x(e.t);
      let row = rowEnds.findIndex((end) => end < start);
      if (row < 0) row = rowEnds.push(0) - 1;
      rowEnds[row] = start + 6 + e.label.length * LABEL_CHAR_PX;
      return { ...e, row };
    });
}

export function ticks(min: number, max: number, count: number): number[] {
  const step = 10 ** Math.floor(Math.log10((max - min) / count || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (max - min) / s <= count) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(min / nice) * nice; v <= max; v += nice) out.push(v);
  return out;
}

export function renderChart(timeline: Timeline, title: string): string {
  const start = Math.min(...timeline.samples.map((s) => s.t), ...timeline.served.map((p) => p.t));
  const end = Math.max(...timeline.samples.map((s) => s.t), ...timeline.served.map((p) => p.t));
  const values = [
    ...timeline.samples.flatMap((s) => Object.values(s.values).filter((v): v is number => v !== null)),
    ...timeline.served.map((p) => p.value),
  ].map((cents) => cents / 100);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const pad = (high - low) * 0.05 || 1;
  const [y0, y1] = [low - pad, high + pad];
  const x = (t: number) =>
    MARGIN.left + ((t - start) / Math.max(1, end - start)) * (WIDTH - MARGIN.left - MARGIN.right);
  const y = (v: number) =>
    HEIGHT - MARGIN.bottom - ((v - y0) / (y1 - y0)) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const colour = (link: string) => COLOURS[timeline.links.indexOf(link) % COLOURS.length] ?? "#000";
  const parts: string[] = [];

  for (const v of ticks(y0, y1, 6)) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(v) + 4}" text-anchor="end">${v.toLocaleString("en-US")}</text>`,
    );
  }
  for (const s of ticks(0, (end - start) / 1000, 12)) {
    const px = x(start + s * 1000);
    parts.push(
      `<line x1="${px}" x2="${px}" y1="${HEIGHT - MARGIN.bottom}" y2="${HEIGHT - MARGIN.bottom + 5}" stroke="#999"/>`,
      `<text x="${px}" y="${HEIGHT - MARGIN.bottom + 20}" text-anchor="middle">${s}s</text>`,
    );
  }
  for (const { t, label, row } of labelRows(timeline.events, x)) {
    const px = x(t);
    parts.push(
      `<line x1="${px}" x2="${px}" y1="${MARGIN.top - 10}" y2="${HEIGHT - MARGIN.bottom}" stroke="#c00" stroke-dasharray="4 3"/>`,
      `<text x="${px + 3}" y="${MARGIN.top - 14 - row * LABEL_ROW}" fill="#c00">${escapeHtml(label)}</text>`,
    );
  }
  // A path broken where the link's Redis did not answer, rather than a line drawn across the outage.
  for (const link of timeline.links) {
    let path = "";
    let pen = "M";
    for (const sample of timeline.samples) {
      const v = sample.values[link];
      if (v === null || v === undefined) pen = "M";
      else {
        path += `${pen}${x(sample.t).toFixed(1)},${y(v / 100).toFixed(1)} `;
        pen = "L";
      }
    }
    parts.push(`<path fill="none" stroke="${colour(link)}" stroke-width="2" d="${path.trim()}"/>`);
  }
  for (const p of timeline.served) {
    const c = colour(p.link);
    parts.push(
      `<circle cx="${x(p.t).toFixed(1)}" cy="${y(p.value / 100).toFixed(1)}" r="2.5" fill="${p.stale ? "none" : c}" stroke="${c}"/>`,
    );
  }
  const legend = timeline.links
    .map((l) => `<span style="color:${colour(l)}">■ link ${escapeHtml(l)}</span>`)
    .join(" &nbsp; ");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:13px sans-serif;margin:16px}svg text{font:11px sans-serif}</style></head>
<body><h3>${escapeHtml(title)}</h3>
<div>${legend} &nbsp; lines: each link's GMV (currency units, whole business day) in its Redis; dots: GMV served to callers, coloured by the link that answered, hollow when flagged stale</div>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}">
<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${WIDTH - MARGIN.left - MARGIN.right}" height="${HEIGHT - MARGIN.top - MARGIN.bottom}" fill="none" stroke="#999"/>
${parts.join("\n")}
</svg></body></html>
`;
}

/** Writes the chart as HTML and, when `png` is given, as a PNG screenshot of it. */
export async function saveChart(
  timeline: Timeline,
  title: string,
  html: string,
  png: string | null,
): Promise<void> {
  const page = renderChart(timeline, title);
  await writeFile(html, page);
  if (!png) return;
  const browser = await launchHeadlessChromium({ width: WIDTH + 40, height: HEIGHT + 110 });
  try {
    await browser.page.setContent(page);
    await browser.page.screenshot({ path: png, fullPage: true });
  } finally {
    await browser.close();
  }
}
