import type Consul from "consul";

// Consul's /v1/txn for KV operations, typed as Consul defines it. The npm client sends its first argument as
// the body but its typings want an options object, and it throws on the 409 of a rolled-back transaction;
// this wrapper turns that 409 into an outcome, so a failed check-and-set is an answer, not an exception.

export type KvTxnOp =
  | { Verb: "set"; Key: string; Value: string }
  | { Verb: "cas"; Key: string; Value: string; Index: number }
  | { Verb: "get-or-empty" | "delete"; Key: string };

export interface KvTxnResult {
  Key: string;
  /** Base64, for reads; null for writes and for an absent key. */
  Value: string | null;
  ModifyIndex: number;
}

export type KvTxnOutcome =
  | { ok: true; results: KvTxnResult[] }
  | { ok: false; errors: { OpIndex: number; What: string }[] };

/** Consul's limit on operations per transaction. */
export const TXN_MAX_OPS = 64;

interface TxnBody {
  Results: { KV: KvTxnResult }[] | null;
  Errors: { OpIndex: number; What: string }[] | null;
}

export async function kvTxn(consul: Consul, ops: KvTxnOp[]): Promise<KvTxnOutcome> {
  const create = consul.transaction.create.bind(consul.transaction) as unknown as (
    operations: { KV: KvTxnOp }[],
  ) => Promise<TxnBody>;
  try {
    const body = await create(ops.map((KV) => ({ KV })));
    return { ok: true, results: (body.Results ?? []).map((r) => r.KV) };
  } catch (err) {
    const response = (err as { response?: { statusCode?: number; body?: TxnBody } }).response;
    if (response?.statusCode === 409) return { ok: false, errors: response.body?.Errors ?? [] };
    throw err;
  }
}

/** The value to send in a set or cas. */
export function encodeValue(text: string): string {
  return Buffer.from(text).toString("base64");
}
