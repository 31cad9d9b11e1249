import type { StackFile } from "../../devstack/supervisor/stackFile.ts";

// What the soak puts the page through besides time: an operator failover, and a period with every link down.
// The failover goes to a standby the comparator judges healthy, as an operator would choose it, and is tried
// again for a while when refused (a link of a busy machine can lag for a moment). Every link's Redis is
// stopped (SIGSTOP), not killed, so the supervisor does not restart it and nothing is lost: the gateway's
// reads time out, it serves its last-known values flagged stale, and SIGCONT brings every link back.

const FAILOVER_TRIES = 30;

interface LinksView {
  links: { id: string; state: string }[];
}
interface RoutingView {
  routing: { active: string; standby: string[] } | null;
}

/** Moves the active link to a healthy standby; resolves with the new active link, or throws saying why not. */
export async function operatorFailover(stack: StackFile, log: (line: string) => void): Promise<string> {
  const comparator = stack.comparatorUrl;
  if (!comparator) throw new Error("the stack runs no comparator: no failover");
  let refusal = "";
  for (let attempt = 0; attempt < FAILOVER_TRIES; attempt++) {
    const { routing } = (await (await fetch(`${comparator}/v1/routing`)).json()) as RoutingView;
    const { links } = (await (await fetch(`${comparator}/v1/links`)).json()) as LinksView;
    const healthy = new Set(links.filter((l) => l.state === "healthy").map((l) => l.id));
    const to = routing?.standby.find((id) => healthy.has(id));
    if (to) {
      const res = await fetch(`${comparator}/v1/failover`, {
        method: "POST",
        headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({
          to,
          reason: "screen soak: failover under the big screen",
          operator: "screen-soak",
        }),
      });
      if (res.ok) {
        log(`failover: link ${routing?.active} → ${to}`);
        return to;
      }
      refusal = `${res.status} ${await res.text()}`;
    } else refusal = `no healthy standby (${links.map((l) => `${l.id} ${l.state}`).join(", ")})`;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`failover refused ${FAILOVER_TRIES} times: ${refusal}`);
}

/** Stops every link's Redis; resolves with what resumes them. Throws when a link's Redis is not the stack's own. */
export function stopAllLinks(stack: StackFile): () => void {
  const pids = stack.links.map((link) => {
    const pid = stack.services.find((s) => s.name === `redis-${link.id}`)?.pid;
    if (pid === null || pid === undefined)
      throw new Error(`link ${link.id}'s Redis is not run by the dev stack: cannot take every link down`);
    return pid;
  });
  for (const pid of pids) process.kill(pid, "SIGSTOP");
  let resumed = false;
  return () => {
    if (resumed) return;
    resumed = true;
    for (const pid of pids) process.kill(pid, "SIGCONT");
  };
}
