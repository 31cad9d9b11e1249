// Command line for a link's Kafka fault-injection endpoint (adminRoutes.ts), for drills by hand:
//   tsx devstack/kafka/faultCli.ts http://127.0.0.1:PORT down 1
// Prints the endpoint's JSON answer; exits 1 when it refuses, 2 on a usage error.

const USAGE = `usage: faultCli.ts <adminUrl> <command>
  status
  down <brokerId|all>              close the broker's connections and refuse new ones
  up <brokerId|all>
  rtt <brokerId|all> <ms>          delay every response of the broker
  errors <apiKey> <code,...> [n]   fail the next requests of apiKey with these codes (sequence repeated n times)
  clear-errors <apiKey>
  leader <topic> <partition> <brokerId|-1>`;

type Request = { method: "GET" | "POST" | "DELETE"; path: string; body?: unknown };

function toRequest(command: string | undefined, args: string[]): Request | null {
  const [a, b, c] = args;
  switch (command) {
    case "status":
      return { method: "GET", path: "/status" };
    case "down":
    case "up":
      return a ? { method: "POST", path: `/brokers/${encodeURIComponent(a)}/${command}` } : null;
    case "rtt":
      return a && b
        ? { method: "POST", path: `/brokers/${encodeURIComponent(a)}/rtt`, body: { ms: Number(b) } }
        : null;
    case "errors":
      if (!a || !b) return null;
      return {
        method: "POST",
        path: "/request-errors",
        body: { apiKey: Number(a), errors: b.split(",").map(Number), ...(c ? { count: Number(c) } : {}) },
      };
    case "clear-errors":
      return a ? { method: "DELETE", path: `/request-errors/${encodeURIComponent(a)}` } : null;
    case "leader":
      return a && b && c
        ? {
            method: "POST",
            path: `/topics/${encodeURIComponent(a)}/partitions/${encodeURIComponent(b)}/leader`,
            body: { brokerId: Number(c) },
          }
        : null;
    default:
      return null;
  }
}

async function main(): Promise<number> {
  const [adminUrl, command, ...args] = process.argv.slice(2);
  const request = adminUrl ? toRequest(command, args) : null;
  if (!adminUrl || !request) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const res = await fetch(new URL(request.path, adminUrl), {
    method: request.method,
    headers: request.body === undefined ? {} : { "content-type": "application/json" },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  const text = await res.text();
  (res.ok ? process.stdout : process.stderr).write(`${text}\n`);
  return res.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`faultCli: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
