import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

// Optional ACLs: one management token that may do everything, and nothing for anyone else (default policy
// deny). The token is read where Consul reads it, in its order: ?token, X-Consul-Token, then
// "Authorization: Bearer <token>" (agent/http.go parseTokenInternal).

export function requestToken(req: IncomingMessage, query: URLSearchParams): string {
  const fromQuery = query.get("token");
  if (fromQuery) return fromQuery;
  const header = req.headers["x-consul-token"];
  if (typeof header === "string" && header !== "") return header;
  const parts = (req.headers.authorization ?? "").split(" ");
  if (parts.length > 1 && parts[0] === "Bearer") return parts.slice(1).join(" ").trim().split(" ")[0] ?? "";
  return "";
}

/** The 403 text for a request that may not proceed, or undefined when it may. */
export function aclDenial(managementToken: string, presented: string): string | undefined {
  if (managementToken === "") return undefined;
  if (presented === "") return "Permission denied";
  const a = Buffer.from(presented);
  const b = Buffer.from(managementToken);
  return a.length === b.length && timingSafeEqual(a, b) ? undefined : "ACL not found";
}
