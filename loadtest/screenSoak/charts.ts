import { escapeHtml, ticks } from "../drills/chart.ts";

// Line charts of the soak's samples over time as SVG (no chart library): one or more series, the soak's
// phases as shaded bands, time in minutes or hours as the run's length suits.

const WIDTH = 1000;
const HEIGHT = 300;
const MARGIN = { left: 90, right: 20, top: 30, bottom: 40 };
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];

export interface Series {
  name: string;
  points: { t: number; v: number | null }[];
}

export interface Band {
  from: number;
  to: number;
  label: string;
}

export function lineChart(title: string, unit: string, series: Series[], bands: Band[]): string {
  const all = series.flatMap((s) => s.points);
  const values = all.flatMap((p) => (p.v === null ? [] : [p.v]));
  const end = Math.max(1, ...all.map((p) => p.t));
  const low = Math.min(0, ...values);
  const high = Math.max(1, ...values) * 1.05;
  const [timeUnit, unitName] =
    end > 2 * 3_600_000 ? [3_600_000, "h"] : end > 300_000 ? [60_000, "min"] : [1_000, "s"];
  const x = (t: number) => MARGIN.left + (t / end) * (WIDTH - MARGIN.left - MARGIN.right);
  const y = (v: number) =>
    HEIGHT - MARGIN.bottom - ((v - low) / (high - low)) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  const parts: string[] = [];
  for (const b of bands)
    parts.push(
      `<rect x="${x(b.from)}" y="${MARGIN.top}" width="${Math.max(1, x(b.to) - x(b.from))}" height="${HEIGHT - MARGIN.top - MARGIN.bottom}" fill="#f3e0c0"/>`,
      `<text x="${x(b.from) + 3}" y="${MARGIN.top + 12}" fill="#a60">${escapeHtml(b.label)}</text>`,
    );
  for (const v of ticks(low, high, 5))
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end">${Number(v.toFixed(6)).toLocaleString("en-US")}</text>`,
    );
  for (const m of ticks(0, end / timeUnit, 10))
    parts.push(
      `<text x="${x(m * timeUnit)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle">${Number(m.toFixed(3))} ${unitName}</text>`,
    );
  series.forEach((s, i) => {
    let path = "";
    let pen = "M";
    for (const p of s.points) {
      if (p.v === null) pen = "M";
      else {
        path += `${pen}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)} `;
        pen = "L";
      }
    }
    parts.push(
      `<path fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.5" d="${path.trim()}"/>`,
    );
  });
  const legend = series
    .map((s, i) => `<tspan fill="${COLOURS[i % COLOURS.length]}">■ ${escapeHtml(s.name)}</tspan>`)
    .join("  ");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" style="font:11px sans-serif">
<text x="${MARGIN.left}" y="16" font-weight="bold">${escapeHtml(title)} (${escapeHtml(unit)})</text>
<text x="${WIDTH - MARGIN.right}" y="16" text-anchor="end">${legend}</text>
<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${WIDTH - MARGIN.left - MARGIN.right}" height="${HEIGHT - MARGIN.top - MARGIN.bottom}" fill="none" stroke="#999"/>
${parts.join("\n")}
</svg>`;
}
