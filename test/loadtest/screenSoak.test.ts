import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { AFTER_FAILOVER, DOWN, RECOVERED, type Sample, STEADY } from "../../loadtest/screenSoak/verdict.ts";

// The big-screen soak as a user runs it, short: `npm run screen:soak -- --fast --duration 90s` starts a dev
// stack of its own, keeps /screen and the ops console open in headless Chromium through an operator failover
// and a period with every link down, and passes its own verdict. The samples behind the verdict are read back
// to see that the run did what it says: the page followed the failover, said it was stale while the links were
// down, and its stream and figures were measured all along.

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

describe("big-screen soak", () => {
  test("a short --fast run through a failover and an outage passes, with its report and charts", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "loadtest/screenSoak/main.ts", "--fast", "--duration", "90s"],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c));
    child.stderr.on("data", (c: Buffer) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, output);
    assert.match(output, /verdict: PASS/);
    const report = /report (\S+report\.html)/.exec(output)?.[1];
    assert.ok(report, output);
    const dir = join(report, "..");
    const run = JSON.parse(await readFile(join(dir, "samples.json"), "utf8")) as { samples: Sample[] };
    const phase = (name: string) => run.samples.filter((s) => s.phase === name);
    for (const name of [STEADY, AFTER_FAILOVER, DOWN, RECOVERED])
      assert.ok(phase(name).length > 0, `no ${name} samples`);
    const before = phase(STEADY).at(-1)?.link;
    assert.ok(
      phase(AFTER_FAILOVER).some((s) => s.link !== before),
      "the page named the new link",
    );
    assert.ok(
      phase(DOWN).some((s) => s.status !== "live"),
      "the page said it was stale or down",
    );
    assert.ok(run.samples.every((s) => s.screen.heapUsed > 0 && s.screen.nodes > 0 && s.console.nodes > 0));
    assert.ok(run.samples.every((s) => s.streamConnections >= 1));
    const last = run.samples.at(-1) as Sample;
    assert.ok((last.shown.gmv ?? 0) > 0 && last.api.gmv !== null, "figures shown and read from the API");
    for (const chart of ["heap", "nodes", "listeners", "cpu", "layouts", "gmv", "stream", "screen"])
      assert.deepEqual((await readFile(join(dir, `${chart}.png`))).subarray(0, 4), PNG, `${chart}.png`);
    assert.match(await readFile(report, "utf8"), /Big-screen soak: <span class="ok">PASS/);
  });
});
