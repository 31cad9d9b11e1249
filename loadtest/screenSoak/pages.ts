import type { CDPSession, Page } from "playwright-core";
import { type HeadlessChromium, launchHeadlessChromium } from "../../harness/headlessChromium.ts";
import { CUMULATIVE, type Figure, type PageMetrics, type Sample } from "./verdict.ts";

// The pages under soak, in Debian's headless Chromium: the big screen (/screen) and the ops console, each
// read through the DevTools protocol. Every sample forces a garbage collection first, so the heap figure is
// what the page keeps rather than what it has not collected yet; DOM nodes, listeners, layouts and script
// time come from the Performance domain. The stream connections are counted from the page's own requests.

export interface SoakTargets {
  gatewayUrl: string;
  comparatorUrl: string;
  apiKey: string;
}

export interface SoakPages {
  sample(t: number, phase: string): Promise<Sample>;
  /** Script errors and failed loads the pages reported. */
  errors: string[];
  /** A PNG of the screen as it is now. */
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
}

async function metricsOf(cdp: CDPSession): Promise<PageMetrics> {
  await cdp.send("HeapProfiler.collectGarbage");
  const { metrics } = await cdp.send("Performance.getMetrics");
  const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? 0;
  return {
    heapUsed: get("JSHeapUsedSize"),
    nodes: get("Nodes"),
    listeners: get("JSEventListeners"),
    layouts: get("LayoutCount"),
    scriptSeconds: get("ScriptDuration"),
  };
}

async function devtools(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  await cdp.send("HeapProfiler.enable");
  return cdp;
}

async function apiValue(t: SoakTargets, figure: Figure): Promise<number | null> {
  try {
    const res = await fetch(`${t.gatewayUrl}/v1/metrics/${figure}`, {
      headers: { "x-api-key": t.apiKey },
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) return null;
    const body = (await res.json()) as { value: number | null };
    return body.value;
  } catch {
    return null;
  }
}

export async function openSoakPages(t: SoakTargets): Promise<SoakPages> {
  const browser: HeadlessChromium = await launchHeadlessChromium({ width: 1600, height: 900 });
  const errors: string[] = [];
  let streamConnections = 0;
  try {
    const screen = browser.page;
    const console = await browser.context.newPage();
    for (const [name, page] of [
      ["screen", screen],
      ["console", console],
    ] as const) {
      page.on("pageerror", (err) => errors.push(`${name}: ${err.message}`));
      page.on("requestfailed", (req) => {
        // A stream cut by an outage is what the soak causes; anything else failing to load is a defect.
        if (!req.url().includes("/v1/stream"))
          errors.push(`${name}: ${req.url()} failed: ${req.failure()?.errorText}`);
      });
    }
    screen.on("request", (req) => {
      if (req.url().includes("/v1/stream")) streamConnections += 1;
    });
    await screen.goto(`${t.gatewayUrl}/screen#key=${encodeURIComponent(t.apiKey)}`);
    await console.goto(`${t.comparatorUrl}/`);
    const [screenCdp, consoleCdp] = [await devtools(screen), await devtools(console)];
    const attribute = async (selector: string, name: string) =>
      (await screen
        .locator(selector)
        .getAttribute(name, { timeout: 5_000 })
        .catch(() => null)) ?? "";
    const text = async (selector: string) =>
      (await screen
        .locator(selector)
        .textContent({ timeout: 5_000 })
        .catch(() => null)) ?? "";
    return {
      errors,
      async sample(at, phase) {
        const shown = {} as Record<Figure, number | null>;
        const api = {} as Record<Figure, number | null>;
        for (const figure of CUMULATIVE) {
          const value = await attribute(`#${figure} .value`, "data-value");
          shown[figure] = value === "" ? null : Number(value);
          api[figure] = await apiValue(t, figure);
        }
        return {
          t: at,
          screen: await metricsOf(screenCdp),
          console: await metricsOf(consoleCdp),
          streamConnections,
          shown,
          api,
          link: await attribute("#link", "data-link"),
          status: await attribute("#status", "class"),
          date: await text("#date"),
          phase,
        };
      },
      screenshot: async (path) => {
        await screen.screenshot({ path });
      },
      close: () => browser.close(),
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
