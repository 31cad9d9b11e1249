import { type ProcessorChild, spawnProcessor, stopProcessor, type TestLink } from "../../harness/links.ts";

// The flood link's consumer group: `count` processor processes, stopped (SIGTERM: finish the batch, leave
// the group) to build the backlog and started again to release it.

export class ProcessorGroup {
  private running: ProcessorChild[] = [];

  constructor(
    private readonly link: TestLink,
    private readonly count: number,
    private readonly categoryFile: string,
  ) {}

  start(): void {
    this.running = Array.from({ length: this.count }, () =>
      spawnProcessor(this.link, { DIM_CATEGORY_FILE: this.categoryFile, HEARTBEAT_INTERVAL: "1s" }),
    );
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    await Promise.all(this.running.map((p) => stopProcessor(p, signal)));
  }

  pids(): number[] {
    return this.running.flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid]));
  }
}
