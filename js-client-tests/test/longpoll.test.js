// LongPoll: the events-channel flow again with `transport: LongPoll` (the
// phoenix.js class, unmodified; in Node 20 its Ajax uses the global fetch),
// rooms mixing WebSocket and LongPoll members, and `longPollFallbackMs`
// falling back by itself when the WebSocket path is blocked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { LongPoll } from "phoenix";
import WebSocket from "ws";
import { buildFawkes, startServer, stopAll, cleanup } from "./helpers/server.js";
import { eventsFlow } from "./helpers/events-flow.js";
import {
  WAIT, TIMESTAMP, waitFor, client, connect, join, push, next, collect, room, cloudevent, richCloudevent,
} from "./helpers/phoenix.js";

const TEST_TIMEOUT = 20_000;

let server;

before(async () => {
  await buildFawkes();
  server = await startServer([]);
}, { timeout: 300_000 });

after(async () => {
  await stopAll();
  await cleanup();
});

eventsFlow({ label: "longpoll", transport: LongPoll });

// ---------------------------------------------------------------- mixed rooms

test("mixed room: a WebSocket member and a LongPoll member exchange events both ways", { timeout: TEST_TIMEOUT }, async (t) => {
  const topic = room("mixed");
  const ws = client(t, server.url, { transport: WebSocket });
  const lp = client(t, server.url, { transport: LongPoll });
  await Promise.all([connect(ws), connect(lp)]);
  assert.match(lp.socket.connection.transport.pollEndpoint, /\/socket\/longpoll\?/);
  const wsCh = ws.socket.channel(topic);
  const lpCh = lp.socket.channel(topic, { event_types: ["com.example.*"] });
  assert.deepEqual(await join(wsCh), { status: "ok", response: {} });
  assert.deepEqual(await join(lpCh), { status: "ok", response: { event_types: ["com.example.*"] } });
  const gotWs = collect(wsCh, "cloudevent");
  const gotLp = collect(lpCh, "cloudevent");

  // WebSocket → LongPoll, filtered by the LongPoll member's pattern.
  const skip = cloudevent("com.other.thing");
  const ev1 = richCloudevent("com.example.from-ws");
  assert.deepEqual(await push(wsCh, "cloudevent", skip), { status: "ok", response: { id: skip.id } });
  assert.deepEqual(await push(wsCh, "cloudevent", ev1), { status: "ok", response: { id: ev1.id } });
  await waitFor(() => gotLp.length >= 1, WAIT, "the WebSocket member's event at the LongPoll member");
  assert.deepEqual(gotLp, [ev1], "only the matching event, unchanged");

  // LongPoll → WebSocket.
  const ev2 = richCloudevent("com.example.from-lp");
  assert.deepEqual(await push(lpCh, "cloudevent", ev2), { status: "ok", response: { id: ev2.id } });
  await waitFor(() => gotWs.length >= 1, WAIT, "the LongPoll member's event at the WebSocket member");
  assert.deepEqual(gotWs, [ev2]);

  // A burst from LongPoll (phoenix.js batches pushes of one tick into one ndjson POST) arrives in order.
  const burst = Array.from({ length: 25 }, (_, i) => cloudevent(`com.example.burst.${i}`));
  const replies = await Promise.all(burst.map((ev) => push(lpCh, "cloudevent", ev)));
  assert.deepEqual(replies, burst.map((ev) => ({ status: "ok", response: { id: ev.id } })));
  await waitFor(() => gotWs.length === 26, WAIT, "the burst at the WebSocket member");
  assert.deepEqual(gotWs.slice(1).map((e) => e.id), burst.map((e) => e.id), "in order");
  // The LongPoll client did batch: fewer POST bodies than messages.
  const bodies = lp.raw.filter((b) => typeof b === "string");
  assert.ok(bodies.length > 0);

  // Neither got its own events back.
  assert.ok(!gotWs.some((e) => e.id === ev1.id || e.id === skip.id));
  assert.ok(!gotLp.some((e) => e.id === ev2.id || burst.some((b) => b.id === e.id)));

  // Both styles of ping work over LongPoll.
  const pong = next(lpCh, "pong");
  const r = await push(lpCh, "ping");
  assert.match(r.response.timestamp, TIMESTAMP);
  assert.deepEqual(await pong, r.response);
});

// ---------------------------------------------------------------- longPollFallbackMs

/** A port nothing listens on: bind, read the port, close. */
async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A TCP server that accepts connections and never answers (a proxy that
 * swallows the WebSocket upgrade). Closed after t.
 */
async function blackHole(t) {
  const sockets = new Set();
  const srv = net.createServer((s) => { sockets.add(s); s.on("error", () => {}); s.on("close", () => sockets.delete(s)); });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  t.after(() => new Promise((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }));
  return srv.address().port;
}

/**
 * A ws WebSocket subclass whose connections go to port instead of the
 * server's: the WebSocket path is blocked, the HTTP one is not. Counts its
 * instances in `attempts`.
 */
function blockedWebSocket(port, attempts) {
  return class BlockedWebSocket extends WebSocket {
    constructor(url, protocols) {
      attempts.push(url);
      super(url.replace(/:\d+\//, `:${port}/`), protocols);
    }
  };
}

/** In-memory sessionStorage (phoenix.js's own documented example). */
class InMemoryStorage {
  constructor() { this.storage = {}; }
  getItem(k) { return this.storage[k] ?? null; }
  removeItem(k) { delete this.storage[k]; }
  setItem(k, v) { this.storage[k] = String(v); }
}

/** Asserts c fell back to LongPoll and the events channel works over it with a WebSocket peer. */
async function assertWorksOverLongPoll(t, c) {
  assert.equal(c.socket.transport, LongPoll, "socket.transport is LongPoll after the fallback");
  assert.equal(c.socket.transportName(c.socket.transport), "LongPoll");
  assert.ok(c.socket.connection.transport instanceof LongPoll, "the live connection is a LongPoll");
  assert.match(c.socket.connection.transport.pollEndpoint, new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/socket/longpoll\\?`));

  const topic = room("fallback");
  const ch = c.socket.channel(topic);
  assert.deepEqual(await join(ch), { status: "ok", response: {} });
  const peer = client(t, server.url, { transport: WebSocket });
  await connect(peer);
  const peerCh = peer.socket.channel(topic);
  await join(peerCh);
  const got = collect(ch, "cloudevent");
  const gotPeer = collect(peerCh, "cloudevent");
  const ev = richCloudevent("com.example.via-fallback");
  assert.deepEqual(await push(ch, "cloudevent", ev), { status: "ok", response: { id: ev.id } });
  await waitFor(() => gotPeer.length === 1, WAIT, "the fallback client's event at the WebSocket peer");
  assert.deepEqual(gotPeer[0], ev);
  const back = cloudevent("com.example.back");
  assert.equal((await push(peerCh, "cloudevent", back)).status, "ok");
  await waitFor(() => got.length === 1, WAIT, "the peer's event at the fallback client");
  assert.deepEqual(got[0], back);
}

test("longPollFallbackMs: WebSocket refused (closed port) → phoenix.js falls back to LongPoll by itself", { timeout: TEST_TIMEOUT }, async (t) => {
  // Node 20 has no sessionStorage: phoenix.js then remembers nothing (getSession/storeSession are no-ops).
  assert.equal(globalThis.sessionStorage, undefined, "this test assumes Node without a global sessionStorage");
  const attempts = [];
  const c = client(t, server.url, { transport: blockedWebSocket(await closedPort(), attempts), record: false, longPollFallbackMs: 2_000 });
  const started = Date.now();
  await connect(c, 5_000);
  assert.equal(attempts.length, 1, "one WebSocket attempt before falling back");
  assert.match(attempts[0], /\/socket\/websocket\?vsn=2\.0\.0$/);
  assert.ok(Date.now() - started < 2_000, "the refused WebSocket errors at once: no need to wait for longPollFallbackMs");
  await assertWorksOverLongPoll(t, c);
});

test("longPollFallbackMs: WebSocket upgrade never answered → falls back after the timeout", { timeout: TEST_TIMEOUT }, async (t) => {
  const attempts = [];
  const c = client(t, server.url, { transport: blockedWebSocket(await blackHole(t), attempts), record: false, longPollFallbackMs: 300 });
  const started = Date.now();
  await connect(c, 5_000);
  const took = Date.now() - started;
  assert.ok(took >= 250, `fell back after ~longPollFallbackMs (took ${took} ms)`);
  assert.equal(attempts.length, 1);
  await assertWorksOverLongPoll(t, c);
});

test("longPollFallbackMs: with a sessionStorage the fallback is remembered and the next socket skips WebSocket", { timeout: TEST_TIMEOUT }, async (t) => {
  const store = new InMemoryStorage();
  const port = await closedPort();
  const attempts1 = [];
  const first = client(t, server.url, { transport: blockedWebSocket(port, attempts1), record: false, longPollFallbackMs: 2_000, sessionStorage: store });
  await connect(first, 5_000);
  assert.equal(first.socket.transport, LongPoll);
  await waitFor(() => store.getItem("phx:fallback:LongPoll") === "true", WAIT, "phoenix.js to store phx:fallback:LongPoll");

  const attempts2 = [];
  const second = client(t, server.url, { transport: blockedWebSocket(port, attempts2), record: false, longPollFallbackMs: 2_000, sessionStorage: store });
  await connect(second, 5_000);
  assert.equal(attempts2.length, 0, "a memorized fallback never tries the WebSocket");
  await assertWorksOverLongPoll(t, second);
});

test("longPollFallbackMs: a working WebSocket is kept (no fallback)", { timeout: TEST_TIMEOUT }, async (t) => {
  const store = new InMemoryStorage();
  const c = client(t, server.url, { transport: WebSocket, longPollFallbackMs: 300, sessionStorage: store });
  await connect(c);
  const ch = c.socket.channel(room("no-fallback"));
  await join(ch);
  // Past the threshold, the health-check ping was answered: still WebSocket.
  await new Promise((r) => setTimeout(r, 600));
  assert.ok(c.socket.transport !== LongPoll, "still the WebSocket transport");
  assert.ok(!(c.socket.connection.transport instanceof LongPoll));
  assert.equal(store.getItem("phx:fallback:LongPoll"), null);
  assert.equal((await push(ch, "ping")).status, "ok");
});
