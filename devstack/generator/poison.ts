import { INPUT_TOPICS, type InputTopic } from "../../common/topics.ts";
import type { Rng } from "./random.ts";

// The worst records the generator can make: what a broken collector, a hostile producer or a bit flip puts on
// an input topic. Every link receives the same input, so a record that stalls or crashes one processor stops
// every link at once; a poison flood (GENERATOR_POISON_FRACTION) is how the dev stack and the tests show that
// none does. Each is shaped to hit a different weakness: memory and copying (huge), decoding (binary),
// recursion (deep: JSON.parse copes, JSON.stringify of the result overflows the stack), type confusion,
// prototype keys, numbers beyond doubles, empty and oversized keys, and hash flooding (many fields).

export const POISON_KINDS = [
  "huge",
  "binary",
  "deep",
  "wrong_types",
  "prototype_keys",
  "extreme_numbers",
  "empty",
  "huge_key",
  "many_fields",
] as const;
export type PoisonKind = (typeof POISON_KINDS)[number];

/** Bytes of a huge value: big enough to hurt a careless copy, small enough for the embedded Kafka's logs. */
export const HUGE_BYTES = 200 * 1024;
/** Nesting of a deep value: JSON.parse copes, JSON.stringify of the result overflows the stack. */
const DEPTH = 100_000;

export interface PoisonRecord {
  topic: InputTopic;
  key: string;
  value: string;
  kind: PoisonKind;
}

/** One poison record of a random kind on a random input topic; `t` is the event time it pretends to have. */
export function poisonRecord(rng: Rng, t: number): PoisonRecord {
  const kind = POISON_KINDS[rng.int(POISON_KINDS.length)] as PoisonKind;
  const topic = INPUT_TOPICS[rng.int(INPUT_TOPICS.length)] as InputTopic;
  const id = `poison-${rng.u32().toString(36)}`;
  return {
    topic,
    key: kind === "huge_key" ? id.padEnd(64 * 1024, "k") : id,
    value: poisonValue(kind, rng, id, t),
    kind,
  };
}

function poisonValue(kind: PoisonKind, rng: Rng, id: string, t: number): string {
  switch (kind) {
    case "huge":
      return JSON.stringify({ orderId: id, note: "x".repeat(HUGE_BYTES), eventTime: "soon" });
    case "binary": {
      // NULs, control characters, lone surrogates and random code points: not text a parser expects.
      let s = "";
      for (let i = 0; i < 2048; i++) s += String.fromCharCode(rng.int(0x10000));
      return s;
    }
    case "deep":
      return `${"[".repeat(DEPTH)}${"]".repeat(DEPTH)}`;
    case "wrong_types":
      return JSON.stringify({
        orderId: 7,
        eventId: ["a"],
        version: "1",
        buyerId: null,
        sellerId: { id: "s-1" },
        categoryId: true,
        advertiserId: 1.5,
        amount: "100",
        costMicros: [],
        status: 3,
        kind: {},
        eventTime: { at: t },
      });
    case "prototype_keys":
      return `{"__proto__":{"amount":1,"eventTime":${t}},"constructor":{"prototype":{"ok":true}},"orderId":"${id}"}`;
    case "extreme_numbers":
      return `{"orderId":"${id}","eventId":"${id}","version":1e400,"amount":-0,"costMicros":1e-320,"eventTime":9007199254740993}`;
    case "empty":
      return "";
    case "huge_key":
      return JSON.stringify({ orderId: id, eventTime: t });
    case "many_fields": {
      const fields: string[] = [];
      for (let i = 0; i < 20_000; i++) fields.push(`"f${i}":${i}`);
      return `{${fields.join(",")}}`;
    }
  }
}
