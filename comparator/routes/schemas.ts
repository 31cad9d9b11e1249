import { DECISION_KINDS } from "../audit.ts";
import { LINK_STATES } from "../metrics.ts";
import { SCRUB_CHECKS } from "../scrub.ts";

// JSON schemas shared by the comparator's routes: they validate input and shape (and document) output.

/** Evidence and other open-ended objects: kept whole, whatever their fields. */
export const openObject = { type: "object", additionalProperties: true } as const;

const nullableNumber = { type: ["number", "null"] } as const;

export const routingDocumentSchema = {
  type: "object",
  additionalProperties: false,
  required: ["version", "active", "standby", "mode", "reason", "changedAt", "changedBy"],
  properties: {
    version: { type: "integer" },
    active: { type: "string" },
    standby: { type: "array", items: { type: "string" } },
    mode: { type: "string", enum: ["auto", "manual"] },
    reason: { type: "string" },
    changedAt: { type: "string" },
    changedBy: { type: "string" },
  },
} as const;

export const auditRecordSchema = {
  type: "object",
  additionalProperties: false,
  required: ["id", "at", "kind", "by", "reason", "evidence"],
  properties: {
    id: { type: "string" },
    at: { type: "string" },
    kind: { type: "string", enum: DECISION_KINDS },
    by: { type: "string" },
    reason: { type: "string" },
    link: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    routingVersion: { type: "integer" },
    evidence: openObject,
  },
} as const;

const findingSchema = {
  type: "object",
  required: ["rule", "detail", "evidence"],
  properties: { rule: { type: "string" }, detail: { type: "string" }, evidence: openObject },
} as const;

const scrubSchema = {
  type: "object",
  description: "The link's scrub (comparator/scrub.ts): its progress and the mismatches it finds standing",
  properties: {
    rounds: { type: "integer" },
    cycles: { type: "integer", description: "Full passes over every closed minute of today and yesterday" },
    minutesChecked: { type: "integer" },
    lastCycleMs: nullableNumber,
    position: {
      type: ["object", "null"],
      properties: { date: { type: "string" }, minute: { type: "string" } },
    },
    lastDayCheck: { type: ["string", "null"] },
    lastRoundAt: nullableNumber,
    error: { type: ["string", "null"] },
    mismatches: {
      type: "array",
      items: {
        type: "object",
        properties: {
          check: { type: "string", enum: SCRUB_CHECKS },
          date: { type: ["string", "null"] },
          minute: { type: ["string", "null"] },
          metric: { type: ["string", "null"] },
          dim: { type: ["string", "null"] },
          key: { type: ["string", "null"] },
          stored: { type: "string" },
          derived: { type: "string" },
          late: { type: "string" },
          foundAt: { type: "number" },
        },
      },
    },
  },
} as const;

const numbersByName = { type: "object", additionalProperties: { type: "number" } } as const;

export const linkViewSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    priority: { type: "integer" },
    state: { type: "string", enum: LINK_STATES },
    since: { type: "string" },
    eligible: { type: "boolean" },
    healthyClosedMinutes: nullableNumber,
    pending: {
      type: ["object", "null"],
      properties: { state: { type: "string" }, probes: { type: "integer" } },
    },
    findings: { type: "array", items: findingSchema },
    suspicions: { type: "array", items: findingSchema },
    error: { type: ["string", "null"] },
    heartbeatAgeMs: nullableNumber,
    watermark: { type: "number" },
    watermarkBehindMs: nullableNumber,
    lagRecords: nullableNumber,
    closedThrough: { type: "number" },
    values: numbersByName,
    gaps: numbersByName,
    incomplete: {
      type: "array",
      items: { type: "string" },
      description:
        "Metrics this link does not hold whole for the day (added since it began, paused, not backfilled)",
    },
    notCompared: {
      type: "array",
      items: { type: "string" },
      description: "Metrics left out of every comparison because some link does not hold them whole",
    },
    scrub: scrubSchema,
  },
} as const;
