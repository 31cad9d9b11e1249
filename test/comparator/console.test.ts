import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { CONSUL_KEYS } from "../../common/routing.ts";
import type { BuiltComparator } from "../../comparator/app.ts";
import { type HeadlessChromium, launchHeadlessChromium } from "../../harness/headlessChromium.ts";
import { waitFor } from "../../harness/links.ts";
import {
  ADMIN_TOKEN,
  buildTestComparator,
  type LinkFixture,
  readRouting,
  type Stack,
  startStack,
  writeLink,
} from "./harness.ts";

// The ops console in Debian's headless Chromium, served by a comparator watching three links whose state is
// written straight into Redis: an operator fails over in one click (reason, confirm) and the page shows the
// new active link and routing version; an unhealthy target is refused with the evidence. The screenshot lands
// in loadtest/results/ (git-ignored).

const LINKS = ["a", "b", "c"];
const SCREENSHOT = new URL("../../loadtest/results/comparator-console.png", import.meta.url).pathname;

describe("ops console", () => {
  let stack: Stack;
  let c: BuiltComparator;
  let base: string;
  let browser: HeadlessChromium;
  let page: Page;
  let writer: NodeJS.Timeout;
  const faults = new Map<string, LinkFixture>();
  const external: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    stack = await startStack(LINKS);
    let n = 0;
    // Live values that grow, with link c a little behind and wobbling, so the gap chart has something to draw.
    const write = () => {
      n += 1;
      return Promise.all(
        LINKS.map((l) =>
          writeLink(stack, l, {
            values: {
              gmv: 1_000_000 + n * 1_250 - (l === "c" ? 2_000 + (n % 7) * 300 : 0),
              paid_orders: 100 + n,
            },
            ...faults.get(l),
          }),
        ),
      ).catch(() => {});
    };
    await write();
    writer = setInterval(write, 100);
    c = await buildTestComparator(stack, { links: LINKS, env: { PROBE_INTERVAL: "100ms" } });
    await c.comparator.leader.start();
    c.comparator.startProbing();
    base = `http://127.0.0.1:${(c.app.server.address() as { port: number }).port}`;
    await stack.consul.kv.set(
      `${CONSUL_KEYS.gatewayAcks}gateway-1`,
      JSON.stringify({
        gatewayId: "gateway-1",
        version: 1,
        appliedAt: new Date().toISOString(),
        active: "a",
      }),
    );

    browser = await launchHeadlessChromium({ width: 1500, height: 1100 });
    page = browser.page;
    page.on("request", (req) => {
      if (!req.url().startsWith(base)) external.push(req.url());
    });
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      // The refusal (409) is the answer the test asks for; anything else the browser reports is a fault.
      if (msg.type() === "error" && !msg.text().includes("status of 409")) pageErrors.push(msg.text());
    });
  });

  after(async () => {
    await browser?.close();
    clearInterval(writer);
    await c?.close();
    await stack?.stop();
  });

  it("shows the links side by side, the routing and its gateway acknowledgements", async () => {
    await page.goto(base);
    await page.locator("#active", { hasText: "a" }).waitFor();
    await page.locator(".link.healthy").nth(2).waitFor();
    assert.equal(await page.locator("#version").textContent(), "1");
    assert.equal(await page.locator("#acks").textContent(), "1 of 1");
    assert.deepEqual(await page.locator(".link-name").allTextContents(), ["a", "b", "c"]);
    await waitFor(
      "the gap chart to draw every link",
      async () => (await page.locator("#chart polyline").count()) === 3,
    );
  });

  it("refuses an unhealthy target and shows why", async () => {
    faults.set("c", { heartbeatAgeMs: 60_000 });
    await page.locator(".link.down").waitFor();
    await page.fill("#operator", "alice");
    await page.fill("#token", ADMIN_TOKEN);
    await page.click('button[data-failover="c"]');
    await page.locator("#confirm-warning").waitFor();
    assert.match((await page.locator("#confirm-state").textContent()) ?? "", /Link c is down/);
    await page.fill("#confirm-reason", "try c");
    await page.click("#confirm-ok");
    await page.locator("#confirm-error", { hasText: "link c is down" }).waitFor();
    assert.match((await page.locator("#confirm-error").textContent()) ?? "", /heartbeat_stale/);
    await page.click("#confirm-cancel");
    assert.equal((await readRouting(stack.consul))?.version, 1);
  });

  it("fails over in one click: the routing version changes and the page shows the new active link", async () => {
    await page.click('button[data-failover="b"]');
    await page.fill("#confirm-reason", "planned maintenance of link a");
    await page.click("#confirm-ok");
    await page.locator("#result", { hasText: "link b is active, routing version 2" }).waitFor();
    await page.locator("#active", { hasText: "b" }).waitFor();
    assert.equal(await page.locator("#version").textContent(), "2");
    assert.equal(await page.locator("#changed-by").textContent(), "operator:alice");
    const routing = await readRouting(stack.consul);
    assert.equal(routing?.version, 2);
    assert.equal(routing?.active, "b");
    assert.equal(routing?.reason, "planned maintenance of link a");
    await page.locator("#audit tbody tr", { hasText: "manual_failover" }).waitFor();
    await page.locator("#acks", { hasText: "0 of 1" }).waitFor();

    await mkdir(new URL(".", `file://${SCREENSHOT}`).pathname, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(external, [], "the page loads nothing from elsewhere");
    assert.deepEqual(pageErrors, [], "no script errors and no Content-Security-Policy violations");
  });
});
