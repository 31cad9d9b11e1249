import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// The summary of a V8 CPU profile (`node --cpu-prof`) that the benchmarks print with --profile: where the
// process spent its CPU, by function, self time and inclusive time.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

function frameName(node: ProfileNode | undefined): string {
  if (!node) return "?";
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber}`;
}

/** Prints the top functions of the first profile in `dir`, as shares of the time the process was on a CPU. */
export function printProfileTop(dir: string, what: string, rows = 20): void {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()[0];
  if (!file) return;
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const name = frameName(byId.get(id));
    // Waiting for sockets is not work: shares are of the time the process was on a CPU.
    if (name.startsWith("(idle)")) return;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    self.set(name, (self.get(name) ?? 0) + dt);
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at))
      onStack.add(frameName(byId.get(at)));
    for (const frame of onStack) inclusive.set(frame, (inclusive.get(frame) ?? 0) + dt);
  });
  const top = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, rows)
      .map(([name, t]) => `  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`)
      .join("\n");
  console.log(`\n${what} CPU profile (${(total / 1e6).toFixed(1)} CPU s; in ${join(dir, file)})`);
  console.log(`top self time:\n${top(self)}`);
  inclusive.delete("(root) :-1");
  console.log(`top inclusive time (the function and what it calls):\n${top(inclusive)}`);
}
