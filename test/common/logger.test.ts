import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";

// Log lines are written once per event-loop turn (common/logger.ts): these check that none is lost or
// reordered when a process ends in each way a service can, and that a large burst arrives whole.

const LOGGER = new URL("../../common/logger.ts", import.meta.url).href;

/** Runs `body` in a child process with `log` in scope; returns its exit code and stdout lines. */
function runWithLogger(body: string): Promise<{ code: number | null; lines: string[] }> {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};\nconst log = createLogger("test");\n${body}`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve) =>
    child.on("close", (code) => resolve({ code, lines: out.split("\n").filter((l) => l !== "") })),
  );
}

const messages = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);

describe("logger", () => {
  it("writes the lines of a turn that ends the process with process.exit", async () => {
    const { code, lines } = await runWithLogger(`log.info("one"); log.fatal("two"); process.exit(3);`);
    assert.equal(code, 3);
    assert.deepEqual(messages(lines), ["one", "two"]);
  });

  it("writes the lines logged before an uncaught exception", async () => {
    const { code, lines } = await runWithLogger(
      `log.info("before"); setTimeout(() => { log.error("about to throw"); throw new Error("boom"); }, 5);`,
    );
    assert.equal(code, 1);
    assert.deepEqual(messages(lines), ["before", "about to throw"]);
  });

  it("writes a burst larger than its buffer whole and in order, while the process keeps running", async () => {
    const { code, lines } = await runWithLogger(
      `for (let i = 0; i < 5000; i++) log.info({ i, pad: "x".repeat(100) }, "burst");
       setTimeout(() => log.info("later"), 20);`,
    );
    assert.equal(code, 0);
    assert.equal(lines.length, 5001);
    assert.deepEqual(
      lines.slice(0, 5000).map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: 5000 }, (_, i) => i),
    );
    assert.equal(messages(lines).at(-1), "later");
  });
});
