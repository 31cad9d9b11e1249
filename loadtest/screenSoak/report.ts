import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { launchHeadlessChromium } from "../../harness/headlessChromium.ts";
import { escapeHtml } from "../drills/chart.ts";
import { type Band, lineChart, type Series } from "./charts.ts";
import type { PageMetrics, Sample, Verdict } from "./verdict.ts";

// The soak's report in its own folder: report.html with the verdict, the findings, the fitted growth and
// one PNG chart per figure over time (each chart drawn as SVG and photographed by headless Chromium, so the
// PNGs can go anywhere a picture can), the screen as it looked at the end, and every sample as JSON.

export interface SoakRun {
  startedAt: string;
  durationMs: number;
  fast: boolean;
  gatewayUrl: string;
  samples: Sample[];
  bands: Band[];
  verdict: Verdict;
  /** Script errors and failed loads the pages reported. */
  errors: string[];
}

const MIB = 1048576;

/** Per-second rate of a counter between samples (layouts, script time). */
function rate(samples: Sample[], pick: (s: Sample) => number, scale = 1): Series["points"] {
  return samples.slice(1).map((s, i) => {
    const prev = samples[i] as Sample;
    const dt = (s.t - prev.t) / 1000;
    return { t: s.t, v: dt > 0 ? ((pick(s) - pick(prev)) / dt) * scale : null };
  });
}

function charts(run: SoakRun): { name: string; svg: string }[] {
  const s = run.samples;
  const both = (pick: (m: PageMetrics) => number): Series[] => [
    { name: "screen", points: s.map((x) => ({ t: x.t, v: pick(x.screen) })) },
    { name: "ops console", points: s.map((x) => ({ t: x.t, v: pick(x.console) })) },
  ];
  const b = run.bands;
  return [
    {
      name: "heap",
      svg: lineChart(
        "JS heap used, after GC",
        "MiB",
        both((m) => m.heapUsed / MIB),
        b,
      ),
    },
    {
      name: "nodes",
      svg: lineChart(
        "DOM nodes",
        "nodes",
        both((m) => m.nodes),
        b,
      ),
    },
    {
      name: "listeners",
      svg: lineChart(
        "Event listeners",
        "listeners",
        both((m) => m.listeners),
        b,
      ),
    },
    {
      name: "cpu",
      svg: lineChart(
        "Script CPU",
        "% of one core",
        [
          { name: "screen", points: rate(s, (x) => x.screen.scriptSeconds, 100) },
          { name: "ops console", points: rate(s, (x) => x.console.scriptSeconds, 100) },
        ],
        b,
      ),
    },
    {
      name: "layouts",
      svg: lineChart(
        "Layouts",
        "per second",
        [
          { name: "screen", points: rate(s, (x) => x.screen.layouts) },
          { name: "ops console", points: rate(s, (x) => x.console.layouts) },
        ],
        b,
      ),
    },
    {
      name: "gmv",
      svg: lineChart(
        "GMV shown vs the API's",
        "currency units",
        [
          {
            name: "page",
            points: s.map((x) => ({ t: x.t, v: x.shown.gmv === null ? null : x.shown.gmv / 100 })),
          },
          { name: "API", points: s.map((x) => ({ t: x.t, v: x.api.gmv === null ? null : x.api.gmv / 100 })) },
        ],
        b,
      ),
    },
    {
      name: "stream",
      svg: lineChart(
        "Stream connections (reconnects + 1)",
        "connections",
        [{ name: "screen", points: s.map((x) => ({ t: x.t, v: x.streamConnections })) }],
        b,
      ),
    },
  ];
}

function table(run: SoakRun): string {
  const first = run.samples[0];
  const last = run.samples.at(-1);
  if (!first || !last) return "<p>No samples.</p>";
  const row = (label: string, a: string, z: string) =>
    `<tr><td>${escapeHtml(label)}</td><td>${escapeHtml(a)}</td><td>${escapeHtml(z)}</td></tr>`;
  const mib = (b: number) => `${(b / MIB).toFixed(2)} MiB`;
  return `<table><tr><th></th><th>first sample</th><th>last sample</th></tr>
${row("screen heap", mib(first.screen.heapUsed), mib(last.screen.heapUsed))}
${row("screen DOM nodes", String(first.screen.nodes), String(last.screen.nodes))}
${row("screen listeners", String(first.screen.listeners), String(last.screen.listeners))}
${row("console heap", mib(first.console.heapUsed), mib(last.console.heapUsed))}
${row("console DOM nodes", String(first.console.nodes), String(last.console.nodes))}
${row("stream connections", String(first.streamConnections), String(last.streamConnections))}
${row("link, status", `${first.link}, ${first.status}`, `${last.link}, ${last.status}`)}
</table>`;
}

/** Writes the report into `dir`; returns the path of report.html. */
export async function writeReport(dir: string, run: SoakRun, screenshot: string | null): Promise<string> {
  const all = charts(run);
  const browser = await launchHeadlessChromium({ width: 1040, height: 340 });
  try {
    for (const c of all) {
      await browser.page.setContent(
        `<!doctype html><body style="margin:10px;background:#fff">${c.svg}</body>`,
      );
      await browser.page.locator("svg").screenshot({ path: join(dir, `${c.name}.png`) });
    }
  } finally {
    await browser.close();
  }
  const v = run.verdict;
  const findings = v.findings.length
    ? `<ul>${v.findings.map((f) => `<li><b>${f.rule}</b>: ${escapeHtml(f.message)}</li>`).join("")}</ul>`
    : "<p>No leak, no frozen figure, no dip.</p>";
  const slopes = v.slopes
    .map(
      (s) =>
        `<li>${s.page}: heap ${(s.heapBytesPerHour / MIB).toFixed(3)} MiB/h, DOM ${s.nodesPerHour.toFixed(1)} nodes/h</li>`,
    )
    .join("");
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Big-screen soak ${escapeHtml(run.startedAt)}</title>
<style>body{font:14px sans-serif;margin:20px;max-width:1060px}td,th{padding:2px 10px;text-align:left}
.ok{color:#080}.bad{color:#c00}img{display:block;margin:10px 0}</style></head><body>
<h1>Big-screen soak: <span class="${v.ok ? "ok" : "bad"}">${v.ok ? "PASS" : "FAIL"}</span></h1>
<p>Started ${escapeHtml(run.startedAt)} against ${escapeHtml(run.gatewayUrl)}, ran ${(run.durationMs / 60000).toFixed(1)} min${run.fast ? " in --fast mode (updates pushed faster; growth is per hour of page time)" : ""}, ${run.samples.length} samples.</p>
<h2>Findings</h2>${findings}
<h2>Growth over the second half (per hour of page time)</h2><ul>${slopes}</ul>
${run.errors.length ? `<h2>Page errors</h2><ul>${run.errors.map((e) => `<li>${escapeHtml(e)}</li>`).join("")}</ul>` : ""}
${table(run)}
${all.map((c) => `<img src="${c.name}.png" alt="${c.name}">`).join("\n")}
${screenshot ? `<h2>The screen at the end</h2><img src="screen.png" alt="the big screen" width="1000">` : ""}
</body></html>
`;
  const file = join(dir, "report.html");
  await writeFile(file, html);
  await writeFile(join(dir, "samples.json"), `${JSON.stringify(run, null, 1)}\n`);
  return file;
}
