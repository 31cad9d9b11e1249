import type { Logger } from "../../common/logger.ts";
import type { LinkStats } from "./linkWriter.ts";
import type { ModelCounts } from "./model.ts";

// What the generator is doing, while it does it: a live line on stderr when that is a terminal, otherwise
// a log line every LOG_EVERY_MS (a supervisor's log file should not fill with carriage returns).

export interface ProgressSnapshot {
  counts: ModelCounts;
  links: LinkStats[];
  /** How far the virtual clock trails the wall clock when paced (ms), null when unpaced. */
  behindMs: number | null;
}

const TTY_EVERY_MS = 500;
const LOG_EVERY_MS = 10_000;

export function startProgress(
  snapshot: () => ProgressSnapshot,
  logger: Logger,
  out: NodeJS.WriteStream = process.stderr,
): { stop(): void } {
  const tty = out.isTTY === true;
  let last = { at: performance.now(), records: snapshot().counts.records };
  const tick = () => {
    const s = snapshot();
    const now = performance.now();
    const rate = ((s.counts.records - last.records) * 1000) / Math.max(1, now - last.at);
    last = { at: now, records: s.counts.records };
    if (tty) out.write(`\r\x1b[2K${line(s, rate)}`);
    else logger.info({ rate: Math.round(rate), ...s }, line(s, rate));
  };
  const timer = setInterval(tick, tty ? TTY_EVERY_MS : LOG_EVERY_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (tty) out.write("\n");
    },
  };
}

function line(s: ProgressSnapshot, rate: number): string {
  const c = s.counts;
  const links = s.links
    .map((l) => {
      const state = l.stalled ? "STALLED" : "ok";
      const extra = `${l.dropped > 0 ? ` dropped=${l.dropped}` : ""}${l.failedSends > 0 ? ` failed=${l.failedSends}` : ""}`;
      return `${l.id}:${state} queued=${l.queued}${extra}`;
    })
    .join(" ");
  const behind = s.behindMs === null ? "" : ` | behind ${(s.behindMs / 1000).toFixed(1)}s`;
  return (
    `${Math.round(rate)}/s | orders ${c.orders} payments ${c.payments} ads ${c.ads}` +
    ` | malformed ${c.malformed} late ${c.late} | ${links}${behind}`
  );
}
