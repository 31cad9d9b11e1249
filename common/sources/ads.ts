import { badEventTime, badId, badInt, badOptionalId, type Json, parserOf } from "../events.ts";
import { type Fact, type SourceDef, topic } from "./source.ts";

// Ads: impressions and clicks, keyed by event id, no join state. `userId` (the person reached) came later:
// records of older producers without it still count for every metric but reach.

export const AD_KINDS = ["impression", "click"] as const;
export type AdKind = (typeof AD_KINDS)[number];

/** An ad impression or click (topic ads.events, key = eventId). */
export interface AdEvent {
  eventId: string;
  kind: AdKind;
  advertiserId: string;
  /** What the advertiser pays for this event, in micro units of the currency (1e-6). */
  costMicros: number;
  /** Who saw or clicked the ad; absent from records of older producers. */
  userId?: string;
  eventTime: number;
}

export const ADS_TOPIC = "ads.events";

function adProblem(o: Json): string | null {
  if (badId(o, "eventId")) return "invalid_eventId";
  if (!(AD_KINDS as readonly unknown[]).includes(o.kind)) return "invalid_kind";
  if (badId(o, "advertiserId")) return "invalid_advertiserId";
  if (badInt(o, "costMicros", 0, 1_000_000_000_000)) return "invalid_costMicros";
  if (badOptionalId(o, "userId")) return "invalid_userId";
  if (badEventTime(o)) return "invalid_eventTime";
  return null;
}

export const parseAd = parserOf<AdEvent>(adProblem);

/** An ad impression or click. */
export interface AdFact extends Fact {
  kind: "ad_event";
  adKind: AdKind;
  costMicros: number;
  /** Null for records without a user. */
  userId: string | null;
  dims: { all: "all"; advertiser: string };
}

export const ads: SourceDef = {
  name: "ads",
  title: "Ad impressions and clicks",
  topics: [
    topic<AdEvent>({
      name: ADS_TOPIC,
      parse: parseAd,
      stateId: () => null,
      onRecord: (ctx, e, late) => {
        const fact: AdFact = {
          kind: "ad_event",
          time: e.eventTime,
          adKind: e.kind,
          costMicros: e.costMicros,
          userId: e.userId ?? null,
          dims: { all: "all", advertiser: e.advertiserId },
        };
        ctx.emit(fact, !late);
      },
    }),
  ],
  state: [],
  facts: ["ad_event"],
  dims: { all: "Everything (the key is `all`)", advertiser: "Advertiser id" },
  lookups: [],
  maxRatePerPartition: 0,
};
