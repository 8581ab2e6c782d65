// The events-channel flow (docs/events-channel.md), as a user of phoenix.js
// would drive it, registered as node:test tests over one transport. It runs
// over WebSocket in events.test.js and over LongPoll in longpoll.test.js:
//
//   eventsFlow({ label: "websocket", transport: WebSocket });
//
// Each call starts its own fawkes binaries (the plain one in before(); the
// ones with special flags inside their tests) and relies on the calling file's
// after() to stopAll().
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./server.js";
import {
  WAIT, TIMESTAMP, sleep, waitFor, within, client, connect, disconnect, join, push, next, collect, room,
  cloudevent, richCloudevent, expectRejected, assertErrorPushBeforeReply, phoenixToken,
} from "./phoenix.js";

const TEST_TIMEOUT = 20_000; // no test may hang

/**
 * Proves non-delivery without sleeping: after the events that must not
 * arrive, the sender sends a sentinel that must; a channel delivers in order,
 * so once the sentinel is in, anything else would have been too.
 */
async function sendThenSentinel(sender, receiverGot, events, sentinelType = "sentinel.event") {
  for (const ev of events) {
    const r = await push(sender, "cloudevent", ev);
    assert.deepEqual(r, { status: "ok", response: { id: ev.id } });
  }
  const sentinel = cloudevent(sentinelType);
  assert.equal((await push(sender, "cloudevent", sentinel)).status, "ok");
  await waitFor(() => receiverGot.some((e) => e.id === sentinel.id), WAIT, `the sentinel ${sentinelType}`);
  return sentinel;
}

/** label names the transport in test names; transport is the class phoenix.js gets. */
export function eventsFlow({ label, transport }) {
  const name = (s) => `[${label}] ${s}`;
  let server;

  before(async () => {
    server = await startServer([]);
  }, { timeout: 300_000 });

  /** A connected client on server (or srv) over this flow's transport. */
  async function connected(t, opts = {}, srv = server) {
    const c = client(t, srv.url, { transport, ...opts });
    srv.clients?.push(c);
    await connect(c);
    return c;
  }

  /**
   * A fawkes with flags for this test only. After the test its clients
   * disconnect first, then it stops; SIGKILL after 1 s, since a long poll the
   * client aborted without closing its connection keeps fawkes waiting for
   * the window (see the SIGTERM test and the BUG note in longpoll.test.js).
   */
  async function serverFor(t, flags, opts) {
    const srv = await startServer(flags, opts);
    srv.clients = [];
    t.after(async () => {
      await Promise.all(srv.clients.map((c) => disconnect(c.socket)));
      await srv.stop({ timeoutMs: 1_000 });
    });
    return srv;
  }

  /** n connected clients, each joined to topic with params; returns [{c, ch}]. */
  async function members(t, topic, n, params = {}) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const c = await connected(t);
      const ch = c.socket.channel(topic, params);
      const r = await join(ch);
      assert.equal(r.status, "ok", `join ${topic}: ${JSON.stringify(r)}`);
      out.push({ c, ch });
    }
    return out;
  }

  test(name("the socket connects over the expected transport"), { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await connected(t);
    assert.equal(c.socket.isConnected(), true);
    const url = c.socket.connection?.transport?.pollEndpoint ?? c.socket.endPointURL();
    if (label === "longpoll") assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/socket\/longpoll\?vsn=2\.0\.0/);
    else assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/socket\/websocket\?vsn=2\.0\.0$/);

    // The other tests wrap the transport class to record sends; the bare class works the same.
    const bare = await connected(t, { record: false });
    assert.equal(bare.socket.transport, transport);
    const ch = bare.socket.channel(room("bare"), { event_types: ["a.*"] });
    assert.deepEqual(await join(ch), { status: "ok", response: { event_types: ["a.*"] } });
    const pong = next(ch, "pong");
    const r = await push(ch, "ping");
    assert.deepEqual(await pong, r.response);
  });

  test(name("join: the lobby and a room reply {}; with event_types the reply lists them"), { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await connected(t);
    assert.deepEqual(await join(c.socket.channel("events:lobby")), { status: "ok", response: {} });
    assert.deepEqual(await join(c.socket.channel(room("plain"))), { status: "ok", response: {} });

    // Same rules as subscribe: duplicates dropped, order of first appearance kept.
    const ch = c.socket.channel(room("typed"), { event_types: ["com.example.*", "com.acme.order.created", "com.example.*"] });
    assert.deepEqual(await join(ch), { status: "ok", response: { event_types: ["com.example.*", "com.acme.order.created"] } });
    // An empty list still subscribed: the reply says so.
    assert.deepEqual(await join(c.socket.channel(room("typed-empty"), { event_types: [] })), { status: "ok", response: { event_types: [] } });
    // Non-object join payloads are treated as {}.
    assert.deepEqual(await join(c.socket.channel(room("array-params"), ["not", "an", "object"])), { status: "ok", response: {} });
    // Room names: the whole alphabet, and 128 characters.
    assert.deepEqual(await join(c.socket.channel("events:AZaz09._~:@-")), { status: "ok", response: {} });
    assert.deepEqual(await join(c.socket.channel(`events:${"r".repeat(128)}`)), { status: "ok", response: {} });

    // On the wire: the reply carries the join's join_ref and ref.
    const [sent] = c.sent().filter((m) => m[2] === ch.topic && m[3] === "phx_join");
    const reply = c.received.find((m) => m.topic === ch.topic && m.event === "phx_reply");
    assert.deepEqual([reply.join_ref, reply.ref], [sent[0], sent[1]]);
  });

  test(name("join: invalid rooms are refused with \"invalid topic\""), { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await connected(t);
    for (const topic of ["events:", "events:has space", "events:a/b", `events:${"r".repeat(129)}`, "events:é", "events:a+b"]) {
      const ch = c.socket.channel(topic);
      assert.deepEqual(await join(ch), { status: "error", response: { reason: "invalid topic" } }, topic);
      ch.leave(); // phoenix.js would retry the refused join forever
    }
    // Not an events topic at all: the multiplexer answers.
    const other = c.socket.channel("nowhere:1");
    assert.deepEqual(await join(other), { status: "error", response: { reason: "unmatched topic" } });
    other.leave();
    // The connection lives on.
    assert.deepEqual(await join(c.socket.channel(room("after-refusals"))), { status: "ok", response: {} });
  });

  test(name("join: event_types with an invalid pattern refuses the join (invalid_subscription)"), { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await connected(t);
    for (const event_types of [[""], [1], "com.example.*", ["x".repeat(257)]]) {
      const ch = c.socket.channel(room("bad-join"), { event_types });
      const r = await join(ch);
      ch.leave();
      assert.equal(r.status, "error", JSON.stringify(event_types));
      assert.equal(r.response.reason, "invalid_subscription", JSON.stringify(r));
      assert.equal(typeof r.response.message, "string");
      assert.ok(r.response.message.length > 0);
    }
  });

  test(name("cloudevent: reaches every other member unchanged, not the sender; the sender gets {id}"), { timeout: TEST_TIMEOUT }, async (t) => {
    const topic = room("broadcast");
    const [a, b, c] = await members(t, topic, 3);
    const [elsewhere] = await members(t, room("elsewhere"), 1);
    const gotA = collect(a.ch, "cloudevent");
    const gotB = collect(b.ch, "cloudevent");
    const gotC = collect(c.ch, "cloudevent");
    const gotElsewhere = collect(elsewhere.ch, "cloudevent");

    const ev = richCloudevent();
    assert.deepEqual(await push(a.ch, "cloudevent", ev), { status: "ok", response: { id: ev.id } });
    await waitFor(() => gotB.length === 1 && gotC.length === 1, WAIT, "the event at both other members");
    assert.deepEqual(gotB[0], ev, "attributes and data unchanged at B");
    assert.deepEqual(gotC[0], ev, "attributes and data unchanged at C");

    // The frame: a broadcast [null, null, topic, "cloudevent", event].
    const frame = b.c.received.find((m) => m.event === "cloudevent");
    assert.deepEqual([frame.join_ref, frame.ref, frame.topic], [null, null, topic]);

    // data_base64, null attributes and an id with characters JSON escapes also pass unchanged.
    const ev2 = cloudevent("com.example.binary", { id: "id \"with\" \\ é 🦅", data_base64: "AAEC/f7/", subject: null });
    assert.deepEqual(await push(b.ch, "cloudevent", ev2), { status: "ok", response: { id: ev2.id } });
    await waitFor(() => gotA.length === 1 && gotC.length === 2, WAIT, "the second event at A and C");
    assert.deepEqual(gotA[0], ev2);
    assert.deepEqual(gotC[1], ev2);

    // The sender never gets its own event back; the other room gets nothing.
    await sendThenSentinel(c.ch, gotA, []); // C's sentinel reaches A after everything before it
    await sendThenSentinel(a.ch, gotC, []);
    assert.equal(gotA.filter((e) => e.id === ev.id).length, 0, "A (sender of ev) never received ev");
    assert.equal(gotB.filter((e) => e.id === ev2.id).length, 0, "B (sender of ev2) never received ev2");
    assert.equal(gotC.filter((e) => e.type === "sentinel.event").length, 1, "C got A's sentinel but not its own");
    assert.deepEqual(gotElsewhere, [], "another room gets nothing");
  });

  test(name("cloudevent: an invalid event gets an error push, then the error reply listing every problem in attribute order"), { timeout: TEST_TIMEOUT }, async (t) => {
    const topic = room("invalid");
    const [a, b] = await members(t, topic, 2);
    const gotB = collect(b.ch, "cloudevent");

    const bad = {
      BadName: "x", // an extension name outside a-z0-9
      data: { a: 1 },
      data_base64: "AAAA",
      time: "yesterday",
      type: 42,
      id: "",
      specversion: "0.3",
      // source missing
    };
    const e = await expectRejected(a.ch, "cloudevent", bad);
    assertErrorPushBeforeReply(a.c, a.ch, "cloudevent");
    assert.equal(e.reason, "invalid_cloudevent");
    assert.equal(typeof e.message, "string");
    assert.ok(e.message.length > 0, "a human sentence");
    assert.deepEqual(
      e.errors.map((p) => p.attribute),
      ["specversion", "id", "source", "type", "time", "data_base64", "BadName"],
      `every problem, in attribute order: ${JSON.stringify(e.errors)}`,
    );
    assert.deepEqual(e.errors[2], { attribute: "source", message: "is required" });
    for (const p of e.errors) assert.ok(typeof p.message === "string" && p.message.length > 0, JSON.stringify(p));

    // More invalid shapes, one problem each.
    const one = async (ev, attribute) => {
      const r = await expectRejected(a.ch, "cloudevent", ev);
      assert.equal(r.reason, "invalid_cloudevent", JSON.stringify(r));
      assert.deepEqual(r.errors.map((p) => p.attribute), [attribute], `${JSON.stringify(ev)} → ${JSON.stringify(r.errors)}`);
    };
    await one(cloudevent("t", { specversion: 1.0 }), "specversion");
    await one(cloudevent("t", { subject: "" }), "subject");
    await one(cloudevent("t", { dataschema: "relative/path" }), "dataschema");
    await one(cloudevent("t", { ext: { nested: true } }), "ext");
    await one(cloudevent("t", { ext: [1] }), "ext");
    await one(cloudevent("t", { source: 7 }), "source");
    await one({ id: "1", source: "/s", type: "t" }, "specversion");

    // Not an object at all: still invalid_cloudevent with a non-empty errors list.
    for (const payload of [["array"], "string", 12]) {
      const r = await expectRejected(a.ch, "cloudevent", payload);
      assert.equal(r.reason, "invalid_cloudevent", JSON.stringify(payload));
      assert.ok(Array.isArray(r.errors) && r.errors.length >= 1, JSON.stringify(r));
    }

    // Nothing was broadcast, and the channel still works.
    await sendThenSentinel(a.ch, gotB, []);
    assert.deepEqual(gotB.map((ev) => ev.type), ["sentinel.event"]);
  });

  test(name("subscribe/unsubscribe: patterns decide delivery (exact, wildcard, *)"), { timeout: TEST_TIMEOUT }, async (t) => {
    const topic = room("filter");
    const [sender, receiver] = await members(t, topic, 2);
    const got = collect(receiver.ch, "cloudevent");
    const types = () => got.map((e) => e.type);
    const ev = (type) => cloudevent(type);

    // No patterns: everything.
    await sendThenSentinel(sender.ch, got, [ev("com.other")]);
    assert.deepEqual(types(), ["com.other", "sentinel.event"]);
    got.length = 0;

    assert.deepEqual(await push(receiver.ch, "subscribe", { event_types: ["com.example.*", "com.acme.order.created"] }),
      { status: "ok", response: { event_types: ["com.example.*", "com.acme.order.created"] } });
    // Duplicates ignored, order of first subscription kept.
    assert.deepEqual(await push(receiver.ch, "subscribe", { event_types: ["com.acme.order.created", "sentinel.event", "com.example.*"] }),
      { status: "ok", response: { event_types: ["com.example.*", "com.acme.order.created", "sentinel.event"] } });

    await sendThenSentinel(sender.ch, got, [
      ev("com.example.a.b"), // wildcard: any run, dots included
      ev("com.other"), // no
      ev("com.example."), // * matches the empty run
      ev("com.example"), // no: the dot is part of the pattern
      ev("com.acme.order.created"), // exact
      ev("com.acme.order.created.v2"), // no: exact means exact
      ev("xcom.example.a"), // no: patterns are anchored
      ev("com.example.a"),
    ]);
    assert.deepEqual(types(), ["com.example.a.b", "com.example.", "com.acme.order.created", "com.example.a", "sentinel.event"]);
    got.length = 0;

    // unsubscribe: exact string match; unknown patterns ignored.
    assert.deepEqual(await push(receiver.ch, "unsubscribe", { event_types: ["com.example.*", "com.never.subscribed", "com.example.a"] }),
      { status: "ok", response: { event_types: ["com.acme.order.created", "sentinel.event"] } });
    await sendThenSentinel(sender.ch, got, [ev("com.example.a"), ev("com.acme.order.created")]);
    assert.deepEqual(types(), ["com.acme.order.created", "sentinel.event"]);
    got.length = 0;

    // A pattern in the middle, and *.
    assert.deepEqual(await push(receiver.ch, "subscribe", { event_types: ["com.*.created"] }),
      { status: "ok", response: { event_types: ["com.acme.order.created", "sentinel.event", "com.*.created"] } });
    await sendThenSentinel(sender.ch, got, [ev("com.shop.created"), ev("com.shop.updated"), ev("com.created")]);
    assert.deepEqual(types(), ["com.shop.created", "sentinel.event"]);
    got.length = 0;

    // Unsubscribing everything: no patterns again, so every event.
    assert.deepEqual(await push(receiver.ch, "unsubscribe", { event_types: ["com.acme.order.created", "sentinel.event", "com.*.created"] }),
      { status: "ok", response: { event_types: [] } });
    await sendThenSentinel(sender.ch, got, [ev("anything.at.all")]);
    assert.deepEqual(types(), ["anything.at.all", "sentinel.event"]);
    got.length = 0;

    assert.deepEqual(await push(receiver.ch, "subscribe", { event_types: ["*"] }), { status: "ok", response: { event_types: ["*"] } });
    await sendThenSentinel(sender.ch, got, [ev("x"), ev("com.example.z")]);
    assert.deepEqual(types(), ["x", "com.example.z", "sentinel.event"]);
    got.length = 0;

    // A join with event_types filters from the start.
    const [typed] = await members(t, topic, 1, { event_types: ["com.example.*"] });
    const gotTyped = collect(typed.ch, "cloudevent");
    await sendThenSentinel(sender.ch, got, [ev("com.other"), ev("com.example.b")]);
    await waitFor(() => gotTyped.length >= 1, WAIT, "the typed joiner's event");
    await sendThenSentinel(sender.ch, gotTyped, [], "com.example.sentinel");
    assert.deepEqual(gotTyped.map((e) => e.type), ["com.example.b", "com.example.sentinel"]);
  });

  test(name("subscribe/unsubscribe: invalid payloads get an error push and reply, subscriptions unchanged"), { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await connected(t);
    const ch = c.socket.channel(room("badsub"), { event_types: ["keep.me"] });
    await join(ch);
    const bad = [
      {},
      { event_types: "com.example.*" },
      { event_types: null },
      { event_types: [1] },
      { event_types: ["ok", null] },
      { event_types: [""] },
      { event_types: ["x".repeat(257)] },
      { event_types: { a: "b" } },
      ["com.example.*"],
    ];
    for (const event of ["subscribe", "unsubscribe"]) {
      for (const payload of bad) {
        const e = await expectRejected(ch, event, payload);
        assert.equal(e.reason, "invalid_subscription", `${event} ${JSON.stringify(payload)}: ${JSON.stringify(e)}`);
        assert.ok(typeof e.message === "string" && e.message.length > 0, JSON.stringify(e));
        assertErrorPushBeforeReply(c, ch, event);
      }
    }
    // 256 characters is fine; an empty list changes nothing: the reply shows the list unchanged.
    const long = "y".repeat(256);
    assert.deepEqual(await push(ch, "subscribe", { event_types: [long] }), { status: "ok", response: { event_types: ["keep.me", long] } });
    assert.deepEqual(await push(ch, "subscribe", { event_types: [] }), { status: "ok", response: { event_types: ["keep.me", long] } });
  });

  test(name("ping: a pong push and an ok reply with the same RFC 3339 microsecond timestamp (both styles)"), { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await connected(t);
    const ch = c.socket.channel(room("ping"));
    await join(ch);
    for (const payload of [{}, { ignored: [1, 2] }, "not even an object"]) {
      const pong = next(ch, "pong");
      const before = Date.now();
      const r = await push(ch, "ping", payload);
      const p = await pong;
      assert.equal(r.status, "ok");
      assert.deepEqual(Object.keys(r.response), ["timestamp"]);
      assert.match(r.response.timestamp, TIMESTAMP);
      assert.deepEqual(p, r.response, "the pong push and the reply carry the same timestamp");
      const ms = Date.parse(r.response.timestamp);
      assert.ok(Math.abs(ms - before) < 5_000, `timestamp ${r.response.timestamp} is now`);
    }
    // Phoenix order: the pong push, then the reply; the push is stamped with the join_ref.
    const pings = c.sent().filter((m) => m[2] === ch.topic && m[3] === "ping");
    const frames = c.received.filter((m) => m.topic === ch.topic);
    const replyAt = frames.findIndex((m) => m.event === "phx_reply" && m.ref === pings.at(-1)[1]);
    assert.equal(frames[replyAt - 1].event, "pong");
    assert.deepEqual([frames[replyAt - 1].join_ref, frames[replyAt - 1].ref], [ch.joinRef(), null]);
  });

  test(name("unknown event: an error push, then the error reply unknown_event"), { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await connected(t);
    const ch = c.socket.channel(room("unknown"));
    await join(ch);
    const e = await expectRejected(ch, "frobnicate", { x: 1 });
    assert.deepEqual(e, { reason: "unknown_event", message: "unknown event: frobnicate" });
    assertErrorPushBeforeReply(c, ch, "frobnicate");
    // The channel is still joined and answers.
    assert.equal((await push(ch, "ping")).status, "ok");
    assert.equal(ch.state, "joined");
  });

  test(name("binary payloads on an events topic get a clear error reply, not a crash"), { timeout: TEST_TIMEOUT }, async (t) => {
    const c = await connected(t);
    const ch = c.socket.channel(room("binary"));
    await join(ch);
    const e = await expectRejected(ch, "cloudevent", Uint8Array.from([123, 125]).buffer);
    assert.equal(e.reason, "binary_not_supported", JSON.stringify(e));
    assert.ok(typeof e.message === "string" && e.message.length > 0);
    assert.equal((await push(ch, "ping")).status, "ok", "the channel lives on");
    assert.equal(ch.state, "joined");
  });

  test(name("HTTP ingress: an event POSTed to /events/{room} reaches the room's members like a member's (filters apply)"), { timeout: TEST_TIMEOUT }, async (t) => {
    const topic = room("ingress");
    const [all, typed] = await members(t, topic, 2);
    assert.deepEqual(await push(typed.ch, "subscribe", { event_types: ["com.example.*"] }), { status: "ok", response: { event_types: ["com.example.*"] } });
    const gotAll = collect(all.ch, "cloudevent");
    const gotTyped = collect(typed.ch, "cloudevent");
    const post = async (ev) => {
      const res = await fetch(`${server.httpURL}/events/${topic.slice("events:".length)}`, {
        method: "POST",
        headers: { "content-type": "application/cloudevents+json" },
        body: JSON.stringify(ev),
      });
      const body = await res.text();
      assert.ok(res.status >= 200 && res.status < 300, `POST /events/{room}: HTTP ${res.status} ${body}`);
    };
    const other = richCloudevent("com.other.http");
    const matching = richCloudevent("com.example.http");
    await post(other);
    await post(matching);
    await waitFor(() => gotAll.length === 2 && gotTyped.length === 1, WAIT, "the HTTP events at the members");
    assert.deepEqual(gotAll, [other, matching], "unchanged, in order");
    assert.deepEqual(gotTyped, [matching], "the subscription filter applies");
    const frame = all.c.received.find((m) => m.event === "cloudevent");
    assert.deepEqual([frame.join_ref, frame.ref, frame.topic], [null, null, topic]);
  });

  test(name("heartbeat: every member of every room with members gets {timestamp} at the interval"), { timeout: TEST_TIMEOUT }, async (t) => {
    const hb = await serverFor(t, ["--heartbeat-interval", "200ms"]);
    const roomA = room("hb-a");
    const roomB = room("hb-b");
    const conns = [];
    for (const topic of [roomA, roomA, roomB]) {
      const c = await connected(t, {}, hb);
      const ch = c.socket.channel(topic, topic === roomB ? { event_types: ["com.unrelated.*"] } : {});
      assert.equal((await join(ch)).status, "ok");
      conns.push({ c, ch, beats: collect(ch, "heartbeat") });
    }
    await waitFor(() => conns.every((m) => m.beats.length >= 4), 5_000,
      `>= 4 heartbeats at every member (got ${conns.map((m) => m.beats.length)})`);
    for (const { c, ch, beats } of conns) {
      for (const b of beats) {
        assert.deepEqual(Object.keys(b), ["timestamp"]);
        assert.match(b.timestamp, TIMESTAMP);
      }
      const frames = c.received.filter((m) => m.event === "heartbeat");
      for (const f of frames) assert.deepEqual([f.join_ref, f.ref, f.topic], [null, null, ch.topic], "a broadcast frame");
      // Roughly the interval apart (timestamps are the server's).
      const ts = beats.map((b) => Date.parse(b.timestamp));
      for (let i = 1; i < ts.length; i++) {
        const gap = ts[i] - ts[i - 1];
        assert.ok(gap >= 100 && gap <= 1_000, `heartbeat gap ${gap} ms at 200 ms`);
      }
    }
    // One broadcast per topic: both members of room A see the same timestamps.
    const a0 = new Set(conns[0].beats.map((b) => b.timestamp));
    const shared = conns[1].beats.filter((b) => a0.has(b.timestamp));
    assert.ok(shared.length >= 3, `members of one room share heartbeats (${shared.length} in common)`);

    // A member that left gets no more; the rest keep getting them.
    await within(new Promise((r) => conns[2].ch.leave().receive("ok", r)), WAIT, "leave ok");
    const left = conns[2].beats.length;
    const stay = conns[0].beats.length;
    await waitFor(() => conns[0].beats.length >= stay + 3, 3_000, "more heartbeats in room A");
    assert.equal(conns[2].beats.length, left, "no heartbeat after leaving");
  });

  test(name("heartbeat: --heartbeat-interval 0 sends none"), { timeout: TEST_TIMEOUT }, async (t) => {
    const off = await serverFor(t, ["--heartbeat-interval", "0"]);
    const c = await connected(t, {}, off);
    const ch = c.socket.channel(room("hb-off"));
    await join(ch);
    const beats = collect(ch, "heartbeat");
    await sleep(600);
    assert.deepEqual(beats, []);
  });

  test(name("limits: --max-patterns and --max-event-bytes are honoured"), { timeout: TEST_TIMEOUT }, async (t) => {
    const lim = await serverFor(t, ["--max-patterns", "3", "--max-event-bytes", "1024"]);
    const topic = room("limits");
    const conns = [];
    for (let i = 0; i < 2; i++) {
      const c = await connected(t, {}, lim);
      const ch = c.socket.channel(topic);
      assert.equal((await join(ch)).status, "ok");
      conns.push({ c, ch });
    }
    const [{ ch: a }, { ch: b }] = conns;

    // Patterns: 3 fit, the 4th is refused and changes nothing; duplicates do not count.
    assert.deepEqual(await push(b, "subscribe", { event_types: ["p.1", "p.2", "p.3", "p.1"] }),
      { status: "ok", response: { event_types: ["p.1", "p.2", "p.3"] } });
    const e = await expectRejected(b, "subscribe", { event_types: ["p.4"] });
    assert.equal(e.reason, "invalid_subscription");
    assert.ok(e.message.length > 0);
    assert.deepEqual(await push(b, "subscribe", { event_types: ["p.2"] }), { status: "ok", response: { event_types: ["p.1", "p.2", "p.3"] } });
    assert.deepEqual(await push(b, "unsubscribe", { event_types: ["p.3"] }), { status: "ok", response: { event_types: ["p.1", "p.2"] } });
    assert.deepEqual(await push(b, "subscribe", { event_types: ["p.4"] }), { status: "ok", response: { event_types: ["p.1", "p.2", "p.4"] } });
    // A join over the limit is refused.
    const c3 = await connected(t, {}, lim);
    const over = c3.socket.channel(room("limits-join"), { event_types: ["a", "b", "c", "d"] });
    const r = await join(over);
    over.leave();
    assert.equal(r.status, "error");
    assert.equal(r.response.reason, "invalid_subscription");

    // Event size: the encoded event (the pushed payload's JSON) may be 1024 bytes, not 1025.
    assert.deepEqual(await push(b, "unsubscribe", { event_types: ["p.1", "p.2", "p.4"] }), { status: "ok", response: { event_types: [] } });
    const gotB = collect(b, "cloudevent");
    const sized = (bytes) => {
      const ev = cloudevent("com.example.size", { data: "" });
      ev.data = "x".repeat(bytes - Buffer.byteLength(JSON.stringify(ev)));
      assert.equal(Buffer.byteLength(JSON.stringify(ev)), bytes);
      return ev;
    };
    const fits = sized(1024);
    assert.deepEqual(await push(a, "cloudevent", fits), { status: "ok", response: { id: fits.id } });
    await waitFor(() => gotB.length === 1, WAIT, "the 1024-byte event");
    assert.deepEqual(gotB[0], fits);
    const big = await expectRejected(a, "cloudevent", sized(1025));
    assert.equal(big.reason, "invalid_cloudevent", JSON.stringify(big));
    assert.equal(big.errors.length, 1, JSON.stringify(big));
    // Multi-byte characters count as bytes.
    const wide = cloudevent("com.example.size", { data: "é".repeat(600) });
    assert.ok(JSON.stringify(wide).length < 1024 && Buffer.byteLength(JSON.stringify(wide)) > 1024);
    assert.equal((await expectRejected(a, "cloudevent", wide)).reason, "invalid_cloudevent");
    await sendThenSentinel(a, gotB, []);
    assert.deepEqual(gotB.map((ev) => ev.id).slice(0, 1), [fits.id]);
    assert.equal(gotB.length, 2, "nothing over the limit was broadcast");
  });

  test(name("join authorization: --join-policy token-rooms refuses rooms the token does not name"), { timeout: TEST_TIMEOUT }, async (t) => {
    const secret = "fawkes-js-client-tests-secret-key-base-".padEnd(64, "0");
    const auth = await serverFor(t, ["--auth", "phoenix-token", "--join-policy", "token-rooms"], { env: { FAWKES_SECRET_KEY_BASE: secret } });
    const token = phoenixToken(secret, "user socket", { id: "user-1", rooms: ["allowed", "also.allowed"] });
    const c = await connected(t, { params: { token } }, auth);
    assert.deepEqual(await join(c.socket.channel("events:allowed")), { status: "ok", response: {} });
    assert.deepEqual(await join(c.socket.channel("events:also.allowed", { event_types: ["a.*"] })), { status: "ok", response: { event_types: ["a.*"] } });
    for (const topic of ["events:forbidden", "events:lobby"]) {
      const ch = c.socket.channel(topic);
      assert.deepEqual(await join(ch), { status: "error", response: { reason: "unauthorized" } }, topic);
      ch.leave();
    }
    // The room check comes after the topic check.
    const bad = c.socket.channel("events:");
    assert.deepEqual(await join(bad), { status: "error", response: { reason: "invalid topic" } });
    bad.leave();
  });

  test(name("SIGTERM with members joined: fawkes exits 0 within 3 s and the clients notice at once"), { timeout: TEST_TIMEOUT }, async (t) => {
    const srv = await serverFor(t, []);
    const topic = room("sigterm");
    const conns = [];
    for (let i = 0; i < 2; i++) {
      const c = await connected(t, {}, srv);
      const ch = c.socket.channel(topic, { event_types: ["com.example.*"] });
      assert.equal((await join(ch)).status, "ok");
      conns.push({ c, ch, errored: 0 });
      ch.onError(() => conns[i].errored++);
    }
    // Traffic first, so that every client is back in a long poll (or reading) when the signal comes.
    const got = collect(conns[1].ch, "cloudevent");
    await sendThenSentinel(conns[0].ch, got, [], "com.example.sentinel");
    await sleep(100);

    const started = Date.now();
    const exit = await srv.stop({ timeoutMs: 3_000 });
    const took = Date.now() - started;
    assert.deepEqual(exit, { code: 0, signal: null },
      `fawkes must exit 0 on SIGTERM within 3 s (took ${took} ms; a SIGKILL means it hung)\n${srv.tail()}`);
    await waitFor(() => conns.every((m) => m.errored >= 1), 1_000, "every client's channel to error once the server is gone");
  });

  test(name("server restart: phoenix.js reconnects and rejoins on its own, and the flow works again"), { timeout: 30_000 }, async (t) => {
    const first = await serverFor(t, []);
    const topic = room("restart");
    const mk = async () => {
      const c = await connected(t, {}, first);
      const ch = c.socket.channel(topic, { event_types: ["com.example.*"] });
      const oks = [];
      ch.join().receive("ok", (r) => oks.push(r));
      await waitFor(() => oks.length === 1, WAIT, "the first join ok");
      return { c, ch, oks, got: collect(ch, "cloudevent") };
    };
    const a = await mk();
    const b = await mk();
    const ev1 = cloudevent("com.example.before");
    assert.equal((await push(a.ch, "cloudevent", ev1)).status, "ok");
    await waitFor(() => b.got.length === 1, WAIT, "the event before the restart");

    // How promptly SIGTERM ends the server is the "SIGTERM" test's business; here it only has to go.
    await first.stop({ timeoutMs: 2_000 });
    await waitFor(() => a.ch.state === "errored" || a.ch.state === "joining", 10_000, "the channel to notice the restart");
    await sleep(200);
    const second = await serverFor(t, [], { port: first.port });
    second.clients.push(a.c, b.c);

    await waitFor(() => a.oks.length === 2 && b.oks.length === 2, 15_000, "both clients to reconnect and rejoin");
    assert.deepEqual(a.oks[1], { event_types: ["com.example.*"] }, "the rejoin re-sends the join params");
    // The flow works again, with the subscriptions of the join.
    await sendThenSentinel(a.ch, b.got, [cloudevent("com.other.after")], "com.example.sentinel");
    const ev2 = cloudevent("com.example.after");
    assert.deepEqual(await push(b.ch, "cloudevent", ev2), { status: "ok", response: { id: ev2.id } });
    await waitFor(() => a.got.length === 1, WAIT, "the event after the restart, the other way");
    assert.deepEqual(a.got[0], ev2);
    assert.deepEqual(b.got.map((e) => e.type), ["com.example.before", "com.example.sentinel"]);
    const pong = next(a.ch, "pong");
    assert.equal((await push(a.ch, "ping")).status, "ok");
    assert.match((await pong).timestamp, TIMESTAMP);
  });
}
