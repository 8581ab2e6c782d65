// The real phoenix.js Socket (the npm package, unmodified) against the real
// fawkes binary over WebSocket, used as an application would use it. The
// server mounts the conformance channel (channels/conformance) on
// "conformance:*"; see that package for what each event does.
//
// Node 20 has no global WebSocket, so phoenix.js gets the `ws` package as its
// transport (phoenix.js calls `new transport(url, protocols)`, sets
// binaryType = "arraybuffer" and uses onopen/onmessage/onclose/onerror, all of
// which ws supports). The transport is subclassed only to record the frames
// the client sends; socket.onMessage records what it receives, decoded by
// phoenix.js's own serializer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { WAIT, sleep, waitFor, within, client as phoenixClient, disconnect, connect, join, push, next } from "./helpers/phoenix.js";
import { buildFawkes, startServer, stopAll, cleanup } from "./helpers/server.js";

const TEST_TIMEOUT = 15_000; // no test may hang

let server;

before(async () => {
  await buildFawkes();
  server = await startServer(["--conformance-channels"]);
}, { timeout: 300_000 });

after(async () => {
  await stopAll();
  await cleanup();
});

// ---------------------------------------------------------------- helpers
// (shared with the other suites: helpers/phoenix.js)

/** A recording phoenix.js client of the server under test (see helpers/phoenix.js). */
const client = (t, url = server.url, opts = {}) => phoenixClient(t, url, opts);

let topicSeq = 0;
const topic = (name) => `conformance:${name}-${++topicSeq}`;

const bytesOf = (buf) => {
  assert.ok(buf instanceof ArrayBuffer, `expected an ArrayBuffer, got ${Object.prototype.toString.call(buf)}`);
  return [...new Uint8Array(buf)];
};

const joinsSent = (c, t) => c.sent().filter((m) => m[2] === t && m[3] === "phx_join");

// ---------------------------------------------------------------- tests

test("connect: onOpen fires and the socket is open", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  assert.equal(c.socket.isConnected(), true);
  assert.equal(c.socket.connectionState(), "open");
  assert.match(c.socket.endPointURL(), /\/socket\/websocket\?vsn=2\.0\.0$/);
  assert.deepEqual(c.closes, []);
});

test("join ok with a reply payload", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("join");
  const ch = c.socket.channel(tp, { reply: { hello: "world", n: 1, list: [1, "two", null] } });
  const r = await join(ch);
  assert.deepEqual(r, { status: "ok", response: { hello: "world", n: 1, list: [1, "two", null] } });
  assert.equal(ch.state, "joined");

  // On the wire: [join_ref, ref, topic, "phx_reply", ...] with join_ref == ref == the join's ref.
  const [sentJoin] = joinsSent(c, tp);
  assert.equal(sentJoin[0], sentJoin[1], "phoenix.js sends join_ref == ref");
  const reply = c.received.find((m) => m.topic === tp && m.event === "phx_reply");
  assert.equal(reply.join_ref, sentJoin[0]);
  assert.equal(reply.ref, sentJoin[1]);
});

test("join without options replies ok {}", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const r = await join(c.socket.channel(topic("plain")));
  assert.deepEqual(r, { status: "ok", response: {} });
});

test("join refused: receive('error') with the refusal, and phoenix.js retries", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("refuse");
  const ch = c.socket.channel(tp, { refuse: { reason: "unauthorized" } });
  const r = await join(ch);
  assert.deepEqual(r, { status: "error", response: { reason: "unauthorized" } });
  // An error reply errors the channel; phoenix.js rejoins with backoff (forever).
  await waitFor(() => joinsSent(c, tp).length >= 2, WAIT, "phoenix.js to retry the refused join");
  const [a, b] = joinsSent(c, tp);
  assert.notEqual(a[0], b[0], "a rejoin uses a new join_ref");
  ch.leave();
});

test("join that crashes the channel: error 'join crashed'", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("joincrash");
  const ch = c.socket.channel(tp, { crash: true });
  const r = await join(ch);
  assert.deepEqual(r, { status: "error", response: { reason: "join crashed" } });
  const reply = c.received.find((m) => m.topic === tp && m.event === "phx_reply");
  assert.equal(reply.join_ref, joinsSent(c, tp)[0][0], "join crashed carries the client's join_ref");
  ch.leave();
  // The connection lives on.
  assert.deepEqual(await join(c.socket.channel(topic("after-crash"))), { status: "ok", response: {} });
});

test("join of an unmatched topic: error 'unmatched topic' with a null join_ref", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel("nowhere:1", {});
  const r = await join(ch);
  assert.deepEqual(r, { status: "error", response: { reason: "unmatched topic" } });
  const [sentJoin] = joinsSent(c, "nowhere:1");
  const reply = c.received.find((m) => m.topic === "nowhere:1" && m.event === "phx_reply");
  assert.equal(reply.join_ref, null);
  assert.equal(reply.ref, sentJoin[1]);
  ch.leave();
});

test("push: receive('ok') with the echoed payload; unknown event: receive('error')", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("echo");
  const ch = c.socket.channel(tp);
  await join(ch);
  const payload = { a: [1, 2.5, "x"], b: { nested: true }, s: "héllo ✓", n: null };
  assert.deepEqual(await push(ch, "echo", payload), { status: "ok", response: payload });
  assert.deepEqual(await push(ch, "no_such_event", {}), { status: "error", response: { reason: "unknown event" } });

  // Replies are stamped with the channel's join_ref and echo the push's ref.
  const pushes = c.sent().filter((m) => m[2] === tp && m[3] === "echo");
  const reply = c.received.find((m) => m.topic === tp && m.event === "phx_reply" && m.ref === pushes[0][1]);
  assert.equal(reply.join_ref, ch.joinRef());
});

test("push that pushes an event back: channel.on receives it, before the reply", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("push");
  const ch = c.socket.channel(tp);
  await join(ch);
  const pushed = next(ch, "pushed");
  const r = await push(ch, "push", { msg: "back at you" });
  assert.deepEqual(r, { status: "ok", response: {} });
  assert.deepEqual(await pushed, { msg: "back at you" });

  const frames = c.received.filter((m) => m.topic === tp).slice(1); // after the join reply
  const push_ = frames.find((m) => m.event === "pushed");
  assert.equal(push_.join_ref, ch.joinRef(), "a push carries the channel's join_ref");
  assert.equal(push_.ref, null, "a push has a null ref");
  assert.deepEqual(frames.map((m) => m.event), ["pushed", "phx_reply"], "Phoenix order: the push, then the reply");
});

test("join option push: after_join arrives after the join reply", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("afterjoin");
  const ch = c.socket.channel(tp, { push: { welcome: 1 } });
  const got = next(ch, "after_join");
  assert.equal((await join(ch)).status, "ok");
  assert.deepEqual(await got, { welcome: 1 });
  const events = c.received.filter((m) => m.topic === tp).map((m) => m.event);
  assert.deepEqual(events, ["phx_reply", "after_join"]);
});

test("reply_later: the asynchronous reply arrives", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("later"));
  await join(ch);
  const started = Date.now();
  assert.deepEqual(await push(ch, "reply_later", { x: 1 }), { status: "ok", response: {} });
  assert.ok(Date.now() - started >= 5, "the reply comes after the server's delay");
  // The channel still answers normally afterwards.
  assert.deepEqual(await push(ch, "echo", { y: 2 }), { status: "ok", response: { y: 2 } });
});

test("broadcast reaches both sockets; broadcast_from skips the sender", { timeout: TEST_TIMEOUT }, async (t) => {
  const a = client(t);
  const b = client(t);
  await Promise.all([connect(a), connect(b)]);
  const tp = topic("room");
  const chA = a.socket.channel(tp);
  const chB = b.socket.channel(tp);
  await Promise.all([join(chA), join(chB)]);

  const gotA = next(chA, "broadcasted");
  const gotB = next(chB, "broadcasted");
  assert.deepEqual(await push(chA, "broadcast", { n: 1 }), { status: "ok", response: {} });
  assert.deepEqual(await gotA, { n: 1 });
  assert.deepEqual(await gotB, { n: 1 });
  const frame = b.received.find((m) => m.event === "broadcasted");
  assert.equal(frame.join_ref, null, "a broadcast has a null join_ref");
  assert.equal(frame.ref, null, "a broadcast has a null ref");

  const seenA = [];
  chA.on("broadcasted", (p) => seenA.push(p));
  const gotB2 = next(chB, "broadcasted");
  assert.deepEqual(await push(chA, "broadcast_from", { n: 2 }), { status: "ok", response: {} });
  assert.deepEqual(await gotB2, { n: 2 });
  // Give a stray frame to the sender time to arrive: it must not.
  await push(chA, "echo", {});
  await sleep(100);
  assert.deepEqual(seenA, [], "broadcast_from must not reach the sender");

  // And the other way round.
  const seenB = [];
  chB.on("broadcasted", (p) => seenB.push(p));
  const gotA3 = next(chA, "broadcasted");
  await push(chB, "broadcast_from", { n: 3 });
  assert.deepEqual(await gotA3, { n: 3 });
  await sleep(100);
  assert.deepEqual(seenB, []);
});

test("leave: receive('ok'), the channel is closed, the server sends phx_close", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("leave");
  const ch = c.socket.channel(tp);
  await join(ch);
  const jr = ch.joinRef();
  let closed = 0;
  ch.onClose(() => closed++);
  await within(new Promise((r) => ch.leave().receive("ok", r)), WAIT, "leave ok");
  assert.equal(ch.state, "closed");
  assert.equal(closed, 1);
  assert.ok(!c.socket.channels.includes(ch), "a closed channel is removed from the socket");

  await waitFor(() => c.received.some((m) => m.topic === tp && m.event === "phx_close"), WAIT, "phx_close after the leave reply");
  const frames = c.received.filter((m) => m.topic === tp).slice(1); // after the join reply
  assert.deepEqual(frames.map((m) => [m.join_ref, m.event]), [[jr, "phx_reply"], [jr, "phx_close"]]);
  const close = frames[1];
  assert.equal(close.ref, jr, "phx_close has ref == join_ref");
  assert.deepEqual(close.payload, {});

  // The server forgot the channel: the topic can be joined again.
  assert.deepEqual(await join(c.socket.channel(tp)), { status: "ok", response: {} });
});

test("duplicate join: a second channel object on the topic replaces the first", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("dup");
  const first = c.socket.channel(tp);
  await join(first);
  let firstClosed = false;
  first.onClose(() => { firstClosed = true; });
  const second = c.socket.channel(tp);
  assert.deepEqual(await join(second), { status: "ok", response: {} });
  await waitFor(() => firstClosed, WAIT, "the first channel to close");
  assert.deepEqual(await push(second, "echo", { ok: 1 }), { status: "ok", response: { ok: 1 } });
  await sleep(100);
  assert.equal(second.state, "joined");
});

test("channel crash: phx_error, then phoenix.js rejoins by itself", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("crash");
  const ch = c.socket.channel(tp);
  let oks = 0;
  const errors = [];
  ch.onError((reason) => errors.push(reason));
  ch.join().receive("ok", () => oks++);
  await waitFor(() => oks === 1, WAIT, "the first join ok");
  const other = c.socket.channel(topic("bystander"));
  await join(other);
  const jr1 = ch.joinRef();

  ch.push("crash", {}, 500); // no reply: the channel dies
  await waitFor(() => errors.length >= 1, WAIT, "channel.onError after the crash");
  const err = c.received.find((m) => m.topic === tp && m.event === "phx_error");
  assert.ok(err, "a phx_error frame arrived");
  assert.equal(err.join_ref, jr1);
  assert.equal(err.ref, jr1, "phx_error has ref == join_ref");
  assert.deepEqual(err.payload, { reason: "channel_crash" });

  await waitFor(() => oks === 2, WAIT, "phoenix.js to rejoin after phx_error (second join ok)");
  assert.equal(joinsSent(c, tp).length, 2);
  assert.notEqual(ch.joinRef(), jr1, "the rejoin has a new join_ref");
  assert.equal(ch.state, "joined");
  assert.deepEqual(await push(ch, "echo", { again: true }), { status: "ok", response: { again: true } });
  // The connection and the other channel lived on.
  assert.deepEqual(await push(other, "echo", { b: 1 }), { status: "ok", response: { b: 1 } });
  assert.deepEqual(c.closes, []);
});

test("stop_error: phx_error, then phoenix.js rejoins", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("stoperr");
  const ch = c.socket.channel(tp);
  let oks = 0;
  ch.join().receive("ok", () => oks++);
  await waitFor(() => oks === 1, WAIT, "the first join ok");
  ch.push("stop_error", {}, 500);
  await waitFor(() => oks === 2, WAIT, "the rejoin after stop_error");
  const err = c.received.find((m) => m.topic === tp && m.event === "phx_error");
  assert.ok(err, "a phx_error frame arrived");
  assert.deepEqual(await push(ch, "echo", {}), { status: "ok", response: {} });
});

test("stop: reply ok, then phx_close; the channel is closed and not rejoined", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("stop");
  const ch = c.socket.channel(tp);
  await join(ch);
  const jr = ch.joinRef();
  let closed = 0;
  ch.onClose(() => closed++);
  assert.deepEqual(await push(ch, "stop", {}), { status: "ok", response: {} });
  await waitFor(() => closed === 1, WAIT, "channel.onClose after phx_close");
  assert.equal(ch.state, "closed");
  const close = c.received.find((m) => m.topic === tp && m.event === "phx_close");
  assert.deepEqual([close.join_ref, close.ref, close.payload], [jr, jr, {}]);
  await sleep(300); // rejoinAfterMs is 50 ms: a rejoin would have happened by now
  assert.equal(joinsSent(c, tp).length, 1, "no rejoin after phx_close");
  assert.ok(!c.socket.channels.includes(ch));
});

test("heartbeat: every heartbeat gets a phx_reply on topic phoenix; no timeout", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t, server.url, { heartbeatIntervalMs: 100 });
  await connect(c);
  const ch = c.socket.channel(topic("hb"));
  await join(ch);
  await sleep(1_000);
  const beats = c.sent().filter((m) => m[2] === "phoenix" && m[3] === "heartbeat");
  const replies = c.received.filter((m) => m.topic === "phoenix" && m.event === "phx_reply");
  assert.ok(beats.length >= 5, `expected >= 5 heartbeats in 1 s at 100 ms, got ${beats.length}`);
  for (const b of beats) {
    assert.equal(b[0], null);
    assert.deepEqual(b[4], {});
  }
  // Each reply answers a heartbeat (all but maybe the one in flight).
  assert.ok(replies.length >= beats.length - 1, `${beats.length} heartbeats, ${replies.length} replies`);
  const beatRefs = new Set(beats.map((b) => b[1]));
  for (const r of replies) {
    assert.equal(r.join_ref, null);
    assert.ok(beatRefs.has(r.ref), `reply ref ${r.ref} answers a heartbeat`);
    assert.deepEqual(r.payload, { status: "ok", response: {} });
  }
  assert.deepEqual(c.closes, [], "no heartbeat timeout closed the socket");
  assert.equal(c.socket.isConnected(), true);
  assert.equal(ch.state, "joined");
  assert.deepEqual(await push(ch, "echo", { z: 1 }), { status: "ok", response: { z: 1 } });
});

test("binary payload both ways: ArrayBuffer push, binary reply and binary push", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("bin");
  const ch = c.socket.channel(tp);
  await join(ch);
  const bytes = [...Array(256).keys(), 0, 255, 0x7b, 0x22]; // every byte value, plus "{\""
  const buf = Uint8Array.from(bytes).buffer;
  const pushed = next(ch, "binary_pushed");
  const r = await push(ch, "bin", buf);
  assert.equal(r.status, "ok");
  assert.deepEqual(bytesOf(r.response), bytes, "binary reply bytes");
  assert.deepEqual(bytesOf(await pushed), bytes, "binary_pushed bytes");

  // The client sent a binary frame, not text.
  const binaryFrames = c.raw.filter((d) => typeof d !== "string");
  assert.equal(binaryFrames.length, 1);
  const reply = c.received.find((m) => m.topic === tp && m.event === "phx_reply" && m.payload.response instanceof ArrayBuffer);
  assert.equal(reply.join_ref, ch.joinRef());
  const push_ = c.received.find((m) => m.event === "binary_pushed");
  assert.equal(push_.join_ref, ch.joinRef());
  assert.equal(push_.ref, null);

  // An empty binary payload works too.
  const pushedEmpty = next(ch, "binary_pushed");
  const r2 = await push(ch, "bin", new ArrayBuffer(0));
  assert.deepEqual(bytesOf(r2.response), []);
  assert.deepEqual(bytesOf(await pushedEmpty), []);
});

test("too many channels: the join over --max-channels is refused", { timeout: TEST_TIMEOUT }, async (t) => {
  const limited = await startServer(["--conformance-channels", "--max-channels", "2"]);
  t.after(() => limited.stop());
  const c = client(t, limited.url);
  await connect(c);
  await join(c.socket.channel(topic("max")));
  await join(c.socket.channel(topic("max")));
  const tp = topic("max");
  const third = c.socket.channel(tp);
  assert.deepEqual(await join(third), { status: "error", response: { reason: "too many channels joined" } });
  const reply = c.received.find((m) => m.topic === tp && m.event === "phx_reply");
  assert.equal(reply.join_ref, joinsSent(c, tp)[0][0], "carries the client's join_ref");
  third.leave();
});

test("server restart: close 1012, phoenix.js reconnects and rejoins on its own", { timeout: 30_000 }, async (t) => {
  const first = await startServer(["--conformance-channels"]);
  t.after(() => first.stop());
  const c = client(t, first.url);
  await connect(c);
  const tp = topic("restart");
  const ch = c.socket.channel(tp, { reply: { n: 1 } });
  const oks = [];
  ch.join().receive("ok", (r) => oks.push(r));
  await waitFor(() => oks.length === 1, WAIT, "the first join ok");
  assert.deepEqual(await push(ch, "echo", { before: true }), { status: "ok", response: { before: true } });
  const jr1 = ch.joinRef();

  const exit = await first.stop(); // SIGTERM: drain, close 1012, exit
  assert.deepEqual(exit, { code: 0, signal: null }, `fawkes exits 0 on SIGTERM\n${first.tail()}`);
  await waitFor(() => c.closes.length >= 1, WAIT, "the client to see the close");
  assert.equal(c.closes[0].code, 1012, "server shutdown closes with 1012 (Service Restart)");
  assert.equal(ch.state, "errored", "channels error when the transport closes");

  // phoenix.js keeps trying (50 ms backoff, connection refused meanwhile).
  await sleep(200);
  const second = await startServer(["--conformance-channels"], { port: first.port });
  t.after(() => second.stop());
  assert.equal(second.port, first.port);

  await waitFor(() => oks.length === 2, 10_000, "phoenix.js to reconnect and rejoin (second join ok)");
  assert.deepEqual(oks[1], { n: 1 });
  assert.equal(c.socket.isConnected(), true);
  assert.notEqual(ch.joinRef(), jr1, "the rejoin has a new join_ref");
  assert.equal(ch.state, "joined");
  assert.deepEqual(await push(ch, "echo", { after: true }), { status: "ok", response: { after: true } });
});
