import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { ERROR_CODES } from "../../common/httpErrors.ts";
import { API_KEY, type StartedGateway, useHarness } from "../gateway/helpers.ts";

// Bodies and parameters an attacker or a clumsy client sends: every one gets a 4xx with the JSON refusal
// body ({statusCode, error, message}), none a 5xx, and the gateway keeps answering good requests after them.

interface Case {
  name: string;
  method: "GET" | "POST";
  url: string;
  contentType?: string;
  body?: string;
  status: number;
}

const deep = `${"[".repeat(5_000)}${"]".repeat(5_000)}`;
const read = (key: string) => `{"reads":[{"metric":"gmv","dim":"seller","key":${key}}]}`;

const CASES: Case[] = [
  { name: "1e400 as a key", method: "POST", url: "/v1/query", body: read("1e400"), status: 400 },
  { name: "-1e400 as a key", method: "POST", url: "/v1/query", body: read("-1e400"), status: 400 },
  {
    name: "1e400 as a metric",
    method: "POST",
    url: "/v1/query",
    body: '{"reads":[{"metric":1e400}]}',
    status: 400,
  },
  {
    name: "UTF-16 charset",
    method: "POST",
    url: "/v1/query",
    contentType: "application/json; charset=utf-16",
    body: read('"s1"'),
    status: 415,
  },
  {
    name: "quoted latin1 charset",
    method: "POST",
    url: "/v1/query",
    contentType: 'application/json; charset="latin1"',
    body: read('"s1"'),
    status: 415,
  },
  { name: "empty body", method: "POST", url: "/v1/query", body: "", status: 400 },
  { name: "not JSON", method: "POST", url: "/v1/query", body: "{", status: 400 },
  { name: "JSON null", method: "POST", url: "/v1/query", body: "null", status: 400 },
  { name: "an array", method: "POST", url: "/v1/query", body: "[]", status: 400 },
  { name: "deeply nested", method: "POST", url: "/v1/query", body: `{"reads":${deep}}`, status: 400 },
  { name: "a key with a slash", method: "POST", url: "/v1/query", body: read('"a/b"'), status: 400 },
  { name: "a key that is an object", method: "POST", url: "/v1/query", body: read('{"x":1}'), status: 400 },
  {
    name: "51 reads",
    method: "POST",
    url: "/v1/query",
    body: `{"reads":[${Array(51).fill('{"metric":"gmv"}').join(",")}]}`,
    status: 400,
  },
  {
    name: "application/xml",
    method: "POST",
    url: "/v1/query",
    contentType: "application/xml",
    body: "<a/>",
    status: 415,
  },
  { name: "text/plain", method: "POST", url: "/v1/query", contentType: "text/plain", body: "x", status: 400 },
  { name: "date 2024-02-30", method: "GET", url: "/v1/metrics/gmv?date=2024-02-30", status: 400 },
  { name: "date 0000-01-01", method: "GET", url: "/v1/metrics/gmv?date=0000-01-01", status: 400 },
  { name: "date 9999-12-31", method: "GET", url: "/v1/metrics/gmv?date=9999-12-31", status: 400 },
  {
    name: "top of 2001-01-01",
    method: "GET",
    url: "/v1/metrics/gmv/top?dim=seller&date=2001-01-01",
    status: 400,
  },
  {
    name: "an old date in a batch",
    method: "POST",
    url: "/v1/query",
    body: '{"reads":[{"metric":"gmv","date":"2001-01-01"}]}',
    status: 400,
  },
  { name: "n as 1e400", method: "GET", url: "/v1/metrics/gmv/top?dim=seller&n=1e400", status: 400 },
  { name: "n as Infinity", method: "GET", url: "/v1/metrics/gmv/top?dim=seller&n=Infinity", status: 400 },
  { name: "unknown metric", method: "GET", url: "/v1/metrics/nope", status: 404 },
  { name: "a NUL in a key", method: "GET", url: "/v1/metrics/gmv?dim=seller&key=%00", status: 400 },
  {
    name: "a long key",
    method: "GET",
    url: `/v1/metrics/gmv?dim=seller&key=${"k".repeat(5_000)}`,
    status: 400,
  },
];

describe("hardening: hostile input to the gateway", () => {
  const h = useHarness(["a"]);
  let gw: StartedGateway;

  before(async () => {
    await h.setDay("a", "gmv", "all", "all", 100);
    gw = await h.gateway();
  });

  for (const c of CASES) {
    test(`${c.name}: ${c.status} with the JSON refusal body`, async () => {
      const res = await gw.app.inject({
        method: c.method,
        url: c.url,
        payload: c.body,
        headers: {
          "x-api-key": API_KEY,
          ...(c.method === "POST" ? { "content-type": c.contentType ?? "application/json" } : {}),
        },
      });
      assert.equal(res.statusCode, c.status, res.body.slice(0, 300));
      const body = res.json();
      assert.equal(body.statusCode, c.status);
      assert.equal(typeof body.error, "string");
      assert.equal(typeof body.message, "string");
      assert.ok(body.code in ERROR_CODES, `a code from the table: ${body.code}`);
    });
  }

  test("still answers a good read afterwards", async () => {
    const res = await gw.get("/v1/metrics/gmv");
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().value, 100);
  });
});
