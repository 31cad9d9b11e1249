import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";

// The gateway holds its log lines up to a few milliseconds (common/logger.ts, holdMs) instead of writing
// them every turn of the event loop. Held lines must still come out while the process runs and waits for
// nothing more, and all of them, in order, when it exits.

const LOGGER = new URL("../../common/logger.ts", import.meta.url).href;

/** A child with a holding logger running `body`; `onLine` sees each stdout line as it arrives. */
function runHolding(body: string, onLine: (line: string, stdin: NodeJS.WritableStream) => void) {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)};
const log = createLogger("test", {}, { holdMs: 20 });
${body}`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["pipe", "pipe", "ignore"],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line);
    onLine(line, child.stdin);
  });
  return new Promise<{ code: number | null; messages: string[] }>((resolve) =>
    child.on("close", (code) =>
      resolve({ code, messages: lines.map((l) => (JSON.parse(l) as { msg: string }).msg) }),
    ),
  );
}

describe("gateway log lines held before writing", () => {
  it("come out while the process idles: the process waits for them to be read", {
    timeout: 20_000,
  }, async () => {
    // The child logs, then waits for the test to have read the line before it logs again and exits: a
    // held line that only an exit wrote would never be read, and the child would wait until the timeout.
    const { code, messages } = await runHolding(
      `log.info("held"); process.stdin.once("data", () => { log.info("after"); process.exit(0); });`,
      (line, stdin) => {
        if (line.includes('"held"')) stdin.write("go\n");
      },
    );
    assert.equal(code, 0);
    assert.deepEqual(messages, ["held", "after"]);
  });

  it("are all written, in order, on exit and past the buffer size", async () => {
    const { code, messages } = await runHolding(
      `for (let i = 0; i < 3000; i++) log.info({ pad: "x".repeat(100) }, String(i)); log.fatal("last"); process.exit(3);`,
      () => {},
    );
    assert.equal(code, 3);
    assert.deepEqual(messages, [...Array.from({ length: 3000 }, (_, i) => String(i)), "last"]);
  });
});
