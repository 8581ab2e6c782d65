// The client conformance kit, run with the reference client: the real
// phoenix.js (npm, unmodified) goes through every command of the
// conformance channel (channels/conformance, fawkes --conformance-channels)
// and shows, on the wire and through its API, what a correct client does in
// response. docs/conformance.md ("For client authors") is the catalogue;
// each test below is named after its entry ("kit <command>: ...").
//
// A client author runs the same catalogue with their own client: start
// `fawkes --conformance-channels`, drive each command, and check the same
// outcomes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { LongPoll } from "phoenix";
import WebSocket from "ws";
import {
  WAIT, sleep, waitFor, within, client as phoenixClient, connect, join, push, next, collect, phoenixToken,
} from "./helpers/phoenix.js";
import { buildFawkes, startServer, stopAll, cleanup } from "./helpers/server.js";

const TEST_TIMEOUT = 20_000; // no test may hang
const FLAGS = ["--conformance-channels"];

let server;

before(async () => {
  await buildFawkes();
  server = await startServer(FLAGS);
}, { timeout: 300_000 });

after(async () => {
  await stopAll();
  await cleanup();
});

/** A recording phoenix.js client (helpers/phoenix.js), of the main server by default. */
const client = (t, url = server.url, opts = {}) => phoenixClient(t, url, opts);

let topicSeq = 0;
const topic = (name) => `conformance:kit-${name}-${process.pid}-${++topicSeq}`;

/** The frames c sent on topic t with event ev, as [join_ref, ref, topic, event, payload]. */
const sentOn = (c, t, ev) => c.sent().filter((m) => m[2] === t && m[3] === ev);

/** The frames c received on topic t, decoded by phoenix.js. */
const receivedOn = (c, t) => c.received.filter((m) => m.topic === t);

const bytesOf = (buf) => {
  assert.ok(buf instanceof ArrayBuffer, `expected an ArrayBuffer, got ${Object.prototype.toString.call(buf)}`);
  return [...new Uint8Array(buf)];
};
const hexOf = (bytes) => bytes.map((b) => b.toString(16).padStart(2, "0")).join("");

/** Joins ch and counts its ok replies in the returned array (live). */
function joinCounting(ch) {
  const oks = [];
  const errors = [];
  ch.join()
    .receive("ok", (r) => oks.push(r))
    .receive("error", (r) => errors.push(r));
  return { oks, errors };
}

// ------------------------------------------------------------ joining

test("kit join {}: ok {}; the client is joined and sent join_ref == ref", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("join");
  const ch = c.socket.channel(tp);
  assert.deepEqual(await join(ch), { status: "ok", response: {} });
  assert.equal(ch.state, "joined");
  const [j] = sentOn(c, tp, "phx_join");
  assert.equal(j[0], j[1], "a join's join_ref is its ref");
  assert.equal(ch.joinRef(), j[0]);
});

test("kit join {\"reply\"}: the ok callback gets the response", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("reply"), { reply: { hello: "world", list: [1, null] } });
  assert.deepEqual(await join(ch), { status: "ok", response: { hello: "world", list: [1, null] } });
});

test("kit join {\"push\"}: after_join reaches channel.on, after the ok", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("push"), { push: { n: 1 } });
  const order = [];
  ch.on("after_join", (p) => order.push(["after_join", p]));
  ch.join().receive("ok", () => order.push(["ok"]));
  await waitFor(() => order.length === 2, WAIT, "the join ok and after_join");
  assert.deepEqual(order, [["ok"], ["after_join", { n: 1 }]]);
});

test("kit join {\"refuse\", \"times\": 1}: error callback, then the client rejoins by itself with a new join_ref", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("refuse");
  const ch = c.socket.channel(tp, { refuse: { reason: "not yet" }, times: 1 });
  const { oks, errors } = joinCounting(ch);
  await waitFor(() => oks.length === 1, WAIT, "the rejoin to succeed");
  assert.deepEqual(errors, [{ reason: "not yet" }]);
  const joins = sentOn(c, tp, "phx_join");
  assert.equal(joins.length, 2);
  assert.notEqual(joins[0][0], joins[1][0], "the rejoin has a new join_ref");
  assert.equal(ch.state, "joined");
});

test("kit join {\"crash\": true}: error 'join crashed', and the client retries", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("crash-join");
  const ch = c.socket.channel(tp, { crash: true, times: 1 });
  const { oks, errors } = joinCounting(ch);
  await waitFor(() => oks.length === 1, WAIT, "the retried join to succeed");
  assert.deepEqual(errors, [{ reason: "join crashed" }]);
});

test("kit join of an unrouted topic: error 'unmatched topic' (null join_ref), retried with backoff", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = `unrouted:kit-${process.pid}`;
  const ch = c.socket.channel(tp);
  const { errors } = joinCounting(ch);
  await waitFor(() => sentOn(c, tp, "phx_join").length >= 2, WAIT, "a retry of the unmatched join");
  assert.deepEqual(errors[0], { reason: "unmatched topic" });
  const reply = receivedOn(c, tp).find((m) => m.event === "phx_reply");
  assert.equal(reply.join_ref, null, "the refusal carries a null join_ref, which the client accepts");
  ch.leave();
});

test("kit join {\"delay_ms\", \"times\": 1} past the join timeout: timeout, phx_leave of that join_ref, then a rejoin that succeeds", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("slow-join");
  const ch = c.socket.channel(tp, { delay_ms: 400, times: 1 });
  let timeouts = 0;
  const oks = [];
  ch.join(300)
    .receive("ok", (r) => oks.push(r))
    .receive("timeout", () => timeouts++);
  await waitFor(() => ch.state === "joined", 5_000, "the rejoin after the join timeout");
  assert.ok(timeouts >= 1, "the first join timed out");
  const joins = sentOn(c, tp, "phx_join");
  const leaves = sentOn(c, tp, "phx_leave");
  assert.ok(joins.length >= 2, "the join was sent again");
  assert.equal(leaves[0][0], joins[0][0], "the timed-out join was left with its own join_ref");
  assert.equal(ch.joinRef(), joins.at(-1)[0], "joined under the last join_ref");
  // The late reply and the phx_close of the first join carry its stale
  // join_ref: the client ignored them and is still joined.
  await sleep(200);
  assert.equal(ch.state, "joined");
  assert.deepEqual(await push(ch, "echo", { after: "timeout" }), { status: "ok", response: { after: "timeout" } });
});

test("kit pushes before the join is ok are buffered, then sent once after it", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("buffer");
  const ch = c.socket.channel(tp, { refuse: { reason: "first" }, times: 1 });
  ch.join();
  const early = push(ch, "echo", { early: true });
  assert.deepEqual(await early, { status: "ok", response: { early: true } });
  const frames = c.sent().filter((m) => m[2] === tp);
  const echoAt = frames.findIndex((m) => m[3] === "echo");
  const lastJoinAt = frames.findLastIndex((m) => m[3] === "phx_join");
  assert.ok(echoAt > lastJoinAt, "the push went out after the successful join, not after the refused one");
  assert.equal(frames.filter((m) => m[3] === "echo").length, 1, "sent once");
  assert.deepEqual(await push(ch, "received"), { status: "ok", response: { events: ["echo"] } }, "the channel got it once");
});

// ------------------------------------------------------------ channel events

test("kit echo: the ok callback gets the payload", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("echo"));
  await join(ch);
  const payload = { s: "héllo ✓ \u2028", n: [1, 2.5, null], o: { t: true } };
  assert.deepEqual(await push(ch, "echo", payload), { status: "ok", response: payload });
});

test("kit reply {\"status\", \"response\"}: receive(<status>) fires for any status", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("status"));
  await join(ch);
  const got = await within(new Promise((r) => {
    ch.push("reply", { status: "accepted", response: { queued: 3 } }).receive("accepted", r);
  }), WAIT, "receive('accepted')");
  assert.deepEqual(got, { queued: 3 });
});

test("kit unknown event: receive('error') with {\"reason\":\"unknown event\"}", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("unknown"));
  await join(ch);
  assert.deepEqual(await push(ch, "no_such_command"), { status: "error", response: { reason: "unknown event" } });
});

test("kit push: channel.on('pushed') fires before the ok callback", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("pushed");
  const ch = c.socket.channel(tp);
  await join(ch);
  const order = [];
  ch.on("pushed", (p) => order.push(["pushed", p]));
  await within(new Promise((r) => ch.push("push", { x: 1 }).receive("ok", () => { order.push(["ok"]); r(); })), WAIT, "the push reply");
  assert.deepEqual(order, [["pushed", { x: 1 }], ["ok"]]);
  const frame = receivedOn(c, tp).find((m) => m.event === "pushed");
  assert.deepEqual([frame.join_ref, frame.ref], [ch.joinRef(), null]);
});

test("kit broadcast / broadcast_from: every member's channel.on gets it (null join_ref); broadcast_from skips the sender", { timeout: TEST_TIMEOUT }, async (t) => {
  const a = client(t);
  const b = client(t);
  await Promise.all([connect(a), connect(b)]);
  const tp = topic("bcast");
  const chA = a.socket.channel(tp);
  const chB = b.socket.channel(tp);
  await Promise.all([join(chA), join(chB)]);
  const gotA = collect(chA, "broadcasted");
  const gotB = collect(chB, "broadcasted");
  await push(chA, "broadcast", { n: 1 });
  await push(chA, "broadcast_from", { n: 2 });
  await waitFor(() => gotB.length === 2, WAIT, "both broadcasts at b");
  await push(chA, "echo"); // anything for a after its own broadcast has arrived by now
  assert.deepEqual(gotA, [{ n: 1 }]);
  assert.deepEqual(gotB, [{ n: 1 }, { n: 2 }]);
});

test("kit reply_later {\"delay_ms\"}: an asynchronous reply is matched by ref; past the push timeout, timeout fires and the late reply is ignored", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("later"));
  await join(ch);
  assert.deepEqual(await push(ch, "reply_later", { delay_ms: 50 }), { status: "ok", response: {} });
  const events = [];
  ch.push("reply_later", { delay_ms: 500 }, 150)
    .receive("ok", () => events.push("ok"))
    .receive("timeout", () => events.push("timeout"));
  await sleep(800);
  assert.deepEqual(events, ["timeout"], "a timed-out push does not fire ok when its reply comes late (and is not resent)");
});

// ------------------------------------------------------------ binary

test("kit binary payload (ArrayBuffer): sent as a binary frame; binary reply and binary push decode to ArrayBuffers", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("bin"));
  await join(ch);
  const bytes = [0, 1, 127, 128, 254, 255, 0x7b];
  const pushed = next(ch, "binary_pushed");
  const r = await push(ch, "bin", Uint8Array.from(bytes).buffer);
  assert.equal(r.status, "ok");
  assert.deepEqual(bytesOf(r.response), bytes);
  assert.deepEqual(bytesOf(await pushed), bytes);
  assert.equal(c.raw.filter((d) => typeof d !== "string").length, 1, "one binary frame sent");
});

test("kit inspect (binary): the server reports the exact bytes the client encoded", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const ch = c.socket.channel(topic("inspect"));
  await join(ch);
  const bytes = [...Array(256).keys()];
  assert.deepEqual(await push(ch, "inspect", Uint8Array.from(bytes).buffer), { status: "ok", response: { size: 256, hex: hexOf(bytes) } });
});

test("kit push_binary {\"hex\"} and broadcast_binary {\"hex\"}: binary push (kind 0) and broadcast (kind 2) reach channel.on as ArrayBuffers", { timeout: TEST_TIMEOUT }, async (t) => {
  const a = client(t);
  const b = client(t);
  await Promise.all([connect(a), connect(b)]);
  const tp = topic("bin-out");
  const chA = a.socket.channel(tp);
  const chB = b.socket.channel(tp);
  await Promise.all([join(chA), join(chB)]);
  const pushed = next(chA, "binary_pushed");
  assert.equal((await push(chA, "push_binary", { hex: "cafe00" })).status, "ok");
  assert.deepEqual(bytesOf(await pushed), [0xca, 0xfe, 0]);
  const bcast = next(chB, "broadcasted");
  assert.equal((await push(chA, "broadcast_binary", { hex: "0a0b" })).status, "ok");
  assert.deepEqual(bytesOf(await bcast), [10, 11]);
});

// ------------------------------------------------------------ the end of a channel

test("kit stop: ok, then phx_close; the client closes the channel and does not rejoin", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("stop");
  const ch = c.socket.channel(tp);
  await join(ch);
  let closed = 0;
  ch.onClose(() => closed++);
  assert.deepEqual(await push(ch, "stop"), { status: "ok", response: {} });
  await waitFor(() => closed === 1, WAIT, "channel.onClose");
  await sleep(300); // rejoinAfterMs is 50 ms: a rejoin would have happened
  assert.equal(sentOn(c, tp, "phx_join").length, 1, "no rejoin after phx_close");
  assert.equal(ch.state, "closed");
});

test("kit stop_error and crash: phx_error; the client errors the channel and rejoins with a new join_ref", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  for (const command of ["stop_error", "crash"]) {
    const tp = topic(command);
    const ch = c.socket.channel(tp);
    const errors = [];
    ch.onError((e) => errors.push(e));
    const { oks } = joinCounting(ch);
    await waitFor(() => oks.length === 1, WAIT, "the first join");
    const jr = ch.joinRef();
    ch.push(command, {}, 500);
    await waitFor(() => oks.length === 2, WAIT, `the rejoin after ${command}`);
    assert.equal(errors.length, 1, `${command}: channel.onError once`);
    assert.notEqual(ch.joinRef(), jr);
    assert.deepEqual(await push(ch, "echo", { back: command }), { status: "ok", response: { back: command } });
  }
});

test("kit leave: ok, phx_close; the channel is closed, not rejoined", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const tp = topic("leave");
  const ch = c.socket.channel(tp);
  await join(ch);
  await within(new Promise((r) => ch.leave().receive("ok", r)), WAIT, "leave ok");
  await waitFor(() => receivedOn(c, tp).some((m) => m.event === "phx_close"), WAIT, "phx_close");
  await sleep(200);
  assert.equal(sentOn(c, tp, "phx_join").length, 1);
  assert.equal(ch.state, "closed");
});

// ------------------------------------------------------------ the connection

/** Joins a channel that counts its joins, on a connected client. */
async function joinedChannel(c, name) {
  const ch = c.socket.channel(topic(name));
  const counted = joinCounting(ch);
  await waitFor(() => counted.oks.length === 1, WAIT, "the first join");
  return { ch, ...counted };
}

test("kit close 1011 (a text frame that is not a Phoenix message): the client reconnects and rejoins", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t);
  await connect(c);
  const { ch, oks } = await joinedChannel(c, "1011");
  c.socket.conn.send("this is not a phoenix message");
  await waitFor(() => c.closes.length >= 1, WAIT, "the server's close");
  assert.equal(c.closes[0].code, 1011);
  await waitFor(() => oks.length === 2, WAIT, "the rejoin after reconnecting");
  assert.equal(ch.state, "joined");
});

test("kit close 1002 (idle timeout): the client reconnects and rejoins", { timeout: TEST_TIMEOUT }, async (t) => {
  const idle = await startServer([...FLAGS, "--idle-timeout", "400ms"]);
  t.after(() => idle.stop());
  const c = client(t, idle.url, { heartbeatIntervalMs: 60_000 });
  await connect(c);
  const { oks } = await joinedChannel(c, "1002");
  await waitFor(() => c.closes.length >= 1, WAIT, "the idle close");
  assert.equal(c.closes[0].code, 1002);
  await waitFor(() => oks.length >= 2, WAIT, "the rejoin after reconnecting");
});

test("kit close 1012 (server restart, SIGTERM): the client reconnects and rejoins", { timeout: 30_000 }, async (t) => {
  const first = await startServer(FLAGS);
  t.after(() => first.stop());
  const c = client(t, first.url);
  await connect(c);
  const { ch, oks } = await joinedChannel(c, "1012");
  await first.stop();
  await waitFor(() => c.closes.length >= 1, WAIT, "the drain close");
  assert.equal(c.closes[0].code, 1012);
  const second = await startServer(FLAGS, { port: first.port });
  t.after(() => second.stop());
  await waitFor(() => oks.length === 2, 10_000, "the rejoin on the restarted server");
  assert.equal(ch.state, "joined");
});

test("kit disconnect (socket with an id): close 1001; the client reconnects and rejoins", { timeout: TEST_TIMEOUT }, async (t) => {
  const secret = "conformance-kit-secret-".repeat(3);
  const authed = await startServer([...FLAGS, "--auth", "phoenix-token"], { env: { FAWKES_SECRET_KEY_BASE: secret } });
  t.after(() => authed.stop());
  const token = phoenixToken(secret, "user socket", `kit-user-${process.pid}`);
  const c = client(t, authed.url, { params: { token } });
  await connect(c);
  const { ch, oks } = await joinedChannel(c, "1001");
  assert.deepEqual(await push(ch, "disconnect"), { status: "ok", response: {} });
  await waitFor(() => c.closes.length >= 1, WAIT, "the disconnect close");
  assert.equal(c.closes[0].code, 1001);
  await waitFor(() => oks.length === 2, WAIT, "the rejoin after reconnecting");

  // On an anonymous socket the command is refused.
  const anon = client(t);
  await connect(anon);
  const chAnon = anon.socket.channel(topic("anon"));
  await join(chAnon);
  assert.deepEqual(await push(chAnon, "disconnect"), { status: "error", response: { reason: "anonymous socket" } });
});

test("kit heartbeat: the client's heartbeats on \"phoenix\" are answered, the connection stays up", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t, server.url, { heartbeatIntervalMs: 100 });
  await connect(c);
  await sleep(500);
  const beats = c.sent().filter((m) => m[2] === "phoenix" && m[3] === "heartbeat");
  assert.ok(beats.length >= 3, `heartbeats sent: ${beats.length}`);
  for (const b of beats.slice(0, -1)) {
    assert.ok(c.received.some((m) => m.topic === "phoenix" && m.event === "phx_reply" && m.ref === b[1]), `reply to heartbeat ${b[1]}`);
  }
  assert.deepEqual(c.closes, []);
});

// ------------------------------------------------------------ LongPoll

/** A TCP port with nothing listening. */
async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

test("kit LongPoll fallback: with the WebSocket blocked, the client falls back to LongPoll, and the kit works there (binary pushes included)", { timeout: TEST_TIMEOUT }, async (t) => {
  const port = await closedPort();
  const Blocked = class extends WebSocket {
    constructor(url, protocols) { super(url.replace(/:\d+\//, `:${port}/`), protocols); }
  };
  const c = client(t, server.url, { transport: Blocked, record: false, longPollFallbackMs: 2_000 });
  await connect(c, 5_000);
  assert.equal(c.socket.transport, LongPoll, "fell back to LongPoll");

  const tp = topic("lp");
  const ch = c.socket.channel(tp, { push: { via: "longpoll" } });
  const after = next(ch, "after_join");
  assert.deepEqual(await join(ch), { status: "ok", response: {} });
  assert.deepEqual(await after, { via: "longpoll" });
  assert.deepEqual(await push(ch, "echo", { lp: true }), { status: "ok", response: { lp: true } });
  assert.deepEqual(await push(ch, "inspect", Uint8Array.from([0, 255, 7]).buffer), { status: "ok", response: { size: 3, hex: "00ff07" } },
    "an ArrayBuffer goes out as a base64 ndjson line");

  const peer = client(t);
  await connect(peer);
  const peerCh = peer.socket.channel(tp);
  await join(peerCh);
  const got = next(ch, "broadcasted");
  await push(peerCh, "broadcast_from", { to: "longpoll" });
  assert.deepEqual(await got, { to: "longpoll" });

  const { oks } = joinCounting(c.socket.channel(topic("lp-crash")));
  await waitFor(() => oks.length === 1, WAIT, "join");
  const crashing = c.socket.channels.at(-1);
  crashing.push("crash", {}, 500);
  await waitFor(() => oks.length === 2, WAIT, "the rejoin after phx_error over LongPoll");
});
