import { readFile } from "node:fs/promises";

/**
 * CPU time (user + system) a process has used so far, in microseconds (Linux /proc, 100 ticks a second).
 * Per unit of work it is steadier than a rate on a machine shared with other work.
 */
export async function cpuMicros(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
