import assert from "node:assert/strict";
import { connect } from "node:net";
import { before, describe, test } from "node:test";
import { keys } from "../../common/keys.ts";
import { API_KEY, OTHER_KEY, type StartedGateway, useHarness, waitFor } from "../gateway/helpers.ts";

// Streams as a greedy or hostile caller opens them: a burst cannot pass the caps (counted before anything
// is awaited), one application cannot take every slot, a subscription over the limits is refused, and a
// reader that stops reading is cut off rather than left holding its slot and buffer.

describe("hardening: stream caps", () => {
  const h = useHarness(["a"]);
  let gw: StartedGateway;
  let base: string;

  before(async () => {
    await h.setDay("a", "gmv", "all", "all", 100);
    gw = await h.gateway({ STREAM_MAX_CLIENTS: "3", STREAM_MAX_CLIENTS_PER_APP: "2" });
    base = await gw.app.listen({ port: 0, host: "127.0.0.1" });
  });

  const open = (key: string, query = "metrics=gmv") =>
    fetch(`${base}/v1/stream?${query}`, { headers: { "x-api-key": key } });

  test("a burst of one application gets its cap, the total cap holds, a closed stream frees its slot", async () => {
    const burst = await Promise.all([1, 2, 3, 4, 5].map(() => open(API_KEY)));
    const statuses = burst.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 503, 503, 503]);
    const refused = burst.find((r) => r.status === 503) as Response;
    assert.match(
      ((await refused.json()) as { message: string }).message,
      /application screen has 2 streams open/,
    );
    assert.ok(refused.headers.get("retry-after"));

    const others = await Promise.all([1, 2].map(() => open(OTHER_KEY)));
    assert.deepEqual(others.map((r) => r.status).sort(), [200, 503]);
    const full = others.find((r) => r.status === 503) as Response;
    assert.equal(((await full.json()) as { message: string }).message, "too many open streams");

    for (const r of burst.filter((x) => x.status === 200)) await r.body?.cancel();
    await waitFor(
      "the slots to be given back",
      async () => (await gw.metric("oneservice_gateway_stream_clients")) === 1,
    );
    const again = await open(OTHER_KEY);
    assert.equal(again.status, 200);
    await again.body?.cancel();
    for (const r of others.filter((x) => x.status === 200)) await r.body?.cancel();
  });

  test("refuses six top lists, six series and more than twenty metrics with 400 naming the field", async () => {
    const pairs = [
      "gmv:seller",
      "gmv:category",
      "gmv:industry",
      "gmv:tier",
      "paid_orders:seller",
      "paid_orders:category",
    ];
    const six = await open(API_KEY, `top=${pairs.join(",")}`);
    assert.equal(six.status, 400);
    assert.equal(((await six.json()) as { field: string }).field, "top");
    const five = await open(API_KEY, `top=${pairs.slice(0, 5).join(",")}`);
    assert.equal(five.status, 200);
    await five.body?.cancel();
  });
});

describe("hardening: a stream reader that stops reading", () => {
  const h = useHarness(["a"]);

  test("is destroyed once 1 MiB behind: its slot and buffer are freed without its cooperation", async () => {
    const lists = ["gmv:seller", "gmv:category", "gmv:industry", "gmv:tier", "paid_orders:seller"];
    // Long keys make each update big, so the kernel's socket buffers (megabytes on loopback) fill in seconds.
    const members = Array.from({ length: 50 }, (_, i) => `seller-${i}-`.padEnd(200, "x"));
    const bump = async (by: number) => {
      const batch = h.link("a").client.pipeline();
      for (const list of lists) {
        const [metric, dim] = list.split(":") as [string, string];
        for (const m of members) batch.zincrby(keys.day(h.today(), metric, dim), by, m);
      }
      await batch.exec();
    };
    await bump(1);
    const gw = await h.gateway({ STREAM_INTERVAL: "10ms", CACHE_TTL: "0" });
    const address = new URL(await gw.app.listen({ port: 0, host: "127.0.0.1" }));

    // A raw socket that sends the request and then never reads: the kernel's windows fill, then the server's.
    const socket = connect(Number(address.port), "127.0.0.1");
    socket.pause();
    socket.write(
      `GET /v1/stream?top=${lists.join(",")}&n=50 HTTP/1.1\r\nHost: x\r\nx-api-key: ${API_KEY}\r\n\r\n`,
    );
    await waitFor(
      "the stream to open",
      async () => (await gw.metric("oneservice_gateway_stream_clients")) === 1,
    );

    // Every top-list entry changes on every tick, so each update carries all 250 entries.
    let by = 2;
    await waitFor(
      "the reader to be dropped",
      async () => {
        await bump(by++);
        return (await gw.metric("oneservice_gateway_streams_dropped_total")) === 1;
      },
      20_000,
    );
    await waitFor(
      "its slot to be free",
      async () => (await gw.metric("oneservice_gateway_stream_clients")) === 0,
    );
    assert.equal(socket.destroyed, false, "the reader did nothing: the server freed the slot");

    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.resume();
    await closed;
  });
});
