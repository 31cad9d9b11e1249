import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { type HeadlessChromium, launchHeadlessChromium } from "../../harness/headlessChromium.ts";
import { API_KEY, type StartedGateway, TIME_ZONE, useHarness } from "./helpers.ts";

// The big screen in a real browser (Debian's headless Chromium): the page loads from the gateway alone,
// shows the live values, top sellers, the minute chart and the link in use, and follows the SSE stream
// as values change and the routing switches. The screenshot lands in loadtest/results/ (git-ignored).

const SCREENSHOT = new URL("../../loadtest/results/gateway-screen.png", import.meta.url).pathname;

describe("big screen page", () => {
  const h = useHarness(["a", "b"]);
  let gw: StartedGateway;
  let base: string;
  let browser: HeadlessChromium;
  let page: Page;
  const external: string[] = [];
  const pageErrors: string[] = [];
  const watermark = Date.now() - 2_000;

  before(async () => {
    for (const link of ["a", "b"]) {
      await h.setDay(link, "gmv", "all", "all", 1_234_567_89);
      await h.setDay(link, "paid_orders", "all", "all", 45_678);
      await h.setDay(link, "buyers", "all", "all", 31_337);
      await h.setWatermark(link, watermark);
      for (let s = 1; s <= 12; s++) {
        await h.setDay(link, "gmv", "seller", `seller-${s}`, 100_000_00 - s * 6_500_00);
      }
      for (let m = 59; m >= 0; m--) {
        const wave = 1_500_000 + Math.round(900_000 * Math.sin((60 - m) / 7)) + (60 - m) * 20_000;
        await h.setMinute(link, h.clock.now - m * 60_000, "gmv", wave);
      }
    }
    await h.publishRouting({ version: 1, active: "a", standby: ["b"] });
    gw = await h.gateway({ STREAM_INTERVAL: "100ms", CACHE_TTL: "0" });
    base = await gw.app.listen({ port: 0, host: "127.0.0.1" });

    browser = await launchHeadlessChromium({ width: 1600, height: 900 });
    page = browser.page;
    page.on("request", (req) => {
      if (!req.url().startsWith(base)) external.push(req.url());
    });
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageErrors.push(msg.text());
    });
  });

  after(() => browser?.close());

  const text = async (selector: string) => (await page.locator(selector).textContent()) ?? "";
  // The page's content security policy forbids evaluating strings, so waits go through selectors.
  const waitText = (selector: string, want: string) =>
    page.locator(`${selector}:text-is(${JSON.stringify(want)})`).waitFor();

  test("shows the live numbers, top sellers, the minute chart and the link, from the gateway alone", async () => {
    await page.goto(`${base}/screen#key=${API_KEY}`);
    await page.waitForSelector("#gmv .value[data-value='123456789']");
    await waitText("#gmv .value", "¥1,234,567.89");
    await waitText("#paid_orders .value", "45,678");
    assert.equal(await text("#buyers .value"), "31,337");
    assert.equal(await page.locator("#link").getAttribute("data-link"), "a");
    assert.equal(await text("#routing-version"), "1");
    assert.equal(await page.locator("#top li").count(), 10);
    assert.match(await text("#top li:first-child"), /seller-1[\s\S]*¥93,500\.00/);
    assert.equal(await page.locator("#chart path.line").getAttribute("data-points"), "60");
    assert.equal(await page.locator("#status").getAttribute("class"), "live");
    const asOf = new Intl.DateTimeFormat("en-GB", { timeStyle: "medium", timeZone: TIME_ZONE });
    await waitText("#as-of", asOf.format(new Date(watermark)));
    assert.equal(page.url(), `${base}/screen`, "the key leaves the address bar");
    assert.deepEqual(external, [], "nothing is loaded from anywhere but the gateway");
  });

  test("follows the stream as values change and the routing switches", async () => {
    await h.setDay("b", "gmv", "all", "all", 1_300_000_00);
    await h.publishRouting({ version: 2, active: "b", standby: ["a"] });
    await page.waitForSelector("#link[data-link='b']");
    await page.waitForSelector("#gmv .value[data-value='130000000']");
    await waitText("#gmv .value", "¥1,300,000.00");
    assert.equal(await text("#routing-version"), "2");
    await mkdir(join(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    assert.deepEqual(pageErrors, [], "no script errors, nothing the browser failed to load");
  });
});
