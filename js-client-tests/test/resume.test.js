// Resume after reconnect (issue 12) with the real phoenix.js client and the
// client code of the README, unmodified:
//
//   let last = null
//   const room = socket.channel("events:orders", () => (last ? { last_event_id: last } : {}))
//   room.on("cloudevent", (ev) => { last = ev.id; render(ev) })
//
// A publisher sends a numbered sequence at a steady rate while the
// subscriber's socket is dropped: by the server (a `disconnect` of its socket
// id), by a killed TCP connection, and by a SIGTERM drain of its node in a
// two-node Redis cluster (it comes back on the other node through the
// balancer). The subscriber must end with the exact sequence, nothing
// missing, nothing twice, over WebSocket and over LongPoll.
//
// The console (cmd/fawkes/console) resumes the same way in Chromium, marks
// the replayed events and says when recovery failed.
//
// The cluster tests need redis-server, the console test /usr/bin/chromium:
// without them they skip loudly, except on CI (CI=true), where they fail.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { LongPoll } from "phoenix";
import WebSocket from "ws";
import { buildFawkes, startServer, stopAll, cleanup } from "./helpers/server.js";
import { startRedis, startCluster, startRoundRobinProxy, TEST_SECRET_KEY_BASE } from "./helpers/cluster.js";
import { startTcpRelay } from "./helpers/tcpkill.js";
import { sleep, waitFor, client, connect, disconnect, join, push, room, phoenixToken } from "./helpers/phoenix.js";

const TEST_TIMEOUT = 60_000;
const EVENTS = 240; // the sequence
const EVERY_MS = 10; // a steady 100 events/s
const DROP_AT = [60, 150]; // the subscriber's socket drops when it has this many

before(async () => {
  await buildFawkes();
}, { timeout: 300_000 });

after(async () => {
  await stopAll();
  await cleanup();
});

const TRANSPORTS = { websocket: WebSocket, longpoll: LongPoll };

/** A token for user, so that the socket has an id (the server-side disconnect needs one). */
const tokenFor = (user) => phoenixToken(TEST_SECRET_KEY_BASE, "user socket", user);

/**
 * The README's subscriber on url: got holds the n of every event in arrival
 * order; rejoins the responses of the joins after the first.
 */
async function subscriber(t, url, topic, transport, user) {
  const c = client(t, url, { transport, params: { token: tokenFor(user) }, reconnectAfterMs: () => 20, rejoinAfterMs: () => 20 });
  await connect(c, 10_000);
  let last = null;
  const got = [];
  const channel = c.socket.channel(topic, () => (last ? { last_event_id: last } : {}));
  channel.on("cloudevent", (ev) => { last = ev.id; got.push(ev.data.n); });
  const joined = await join(channel, 10_000);
  assert.equal(joined.status, "ok", JSON.stringify(joined));
  assert.deepEqual(joined.response, {}, "a first join without last_event_id replies as before");
  const replies = () => c.received
    .filter((m) => m.topic === topic && m.event === "phx_reply" && m.payload?.response && "recovered" in m.payload.response)
    .map((m) => m.payload.response);
  return { c, channel, got, replies };
}

/** A publisher on url: publish() sends 1..EVENTS, one every EVERY_MS, and resolves when all are acknowledged. */
async function publisher(t, url, topic) {
  const c = client(t, url, { transport: WebSocket, params: { token: tokenFor(`publisher:${randomUUID()}`) } });
  await connect(c, 10_000);
  const channel = c.socket.channel(topic, {});
  assert.equal((await join(channel, 10_000)).status, "ok");
  const run = randomUUID();
  return async () => {
    const acks = [];
    const start = Date.now();
    for (let n = 1; n <= EVENTS; n++) {
      const ev = { specversion: "1.0", id: `${run}-${n}`, source: "/resume-test", type: "com.example.seq", data: { n } };
      acks.push(push(channel, "cloudevent", ev, 20_000).then((r) => assert.equal(r.status, "ok", `event ${n}: ${JSON.stringify(r)}`)));
      const due = start + n * EVERY_MS;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    await Promise.all(acks);
  };
}

/**
 * Runs the sequence with drop() called each time the subscriber reaches a
 * count of dropAt, then checks it got exactly 1..EVENTS and resumed.
 */
async function sequenceThroughDrops(t, sub, publish, drop, dropAt = DROP_AT) {
  const drops = (async () => {
    for (const at of dropAt) {
      await waitFor(() => sub.got.length >= at, 20_000, `${at} events before dropping`);
      await drop();
    }
  })();
  await publish();
  await drops;
  await waitFor(() => sub.got.length >= EVENTS && sub.got.at(-1) === EVENTS, 20_000, `event ${EVENTS} (got ${sub.got.length}, last ${sub.got.at(-1)})`);
  await sleep(200); // anything twice would arrive now
  const want = Array.from({ length: EVENTS }, (_, i) => i + 1);
  const missing = want.filter((n) => !sub.got.includes(n));
  const twice = sub.got.filter((n, i) => sub.got.indexOf(n) !== i);
  assert.deepEqual({ missing, twice }, { missing: [], twice: [] }, "every event once");
  assert.deepEqual(sub.got, want, "in order");
  const replies = sub.replies();
  t.diagnostic(`rejoin replies: ${JSON.stringify(replies)}`);
  assert.ok(replies.length >= dropAt.length, `the subscriber rejoined after each drop (${replies.length} rejoins)`);
  for (const r of replies) assert.equal(r.recovered, true, `every rejoin recovered: ${JSON.stringify(r)}`);
}

for (const [name, transport] of Object.entries(TRANSPORTS)) {
  test(`${name}: a server-side disconnect of the socket, twice, while events keep coming`, { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer(["--auth", "phoenix-token", "--token-max-age", "infinity", "--conformance-channels"], { env: { FAWKES_SECRET_KEY_BASE: TEST_SECRET_KEY_BASE } });
    t.after(() => server.stop({ timeoutMs: 3_000 }));
    const topic = room("resume");
    const sub = await subscriber(t, server.url, topic, transport, `user:${randomUUID()}`);
    const publish = await publisher(t, server.url, topic);
    await sequenceThroughDrops(t, sub, publish, async () => {
      const ctl = sub.c.socket.channel(`conformance:${randomUUID()}`, {});
      assert.equal((await join(ctl, 10_000)).status, "ok");
      const closes = sub.c.closes.length;
      assert.equal((await push(ctl, "disconnect", {}, 10_000)).status, "ok");
      ctl.leave();
      await waitFor(() => sub.c.closes.length > closes, 10_000, "the server to close the socket");
    });
  });

  test(`${name}: a killed TCP connection, twice, while events keep coming`, { timeout: TEST_TIMEOUT }, async (t) => {
    const server = await startServer([]);
    t.after(() => server.stop({ timeoutMs: 3_000 }));
    const relay = await startTcpRelay(server.port);
    t.after(() => relay.stop());
    const topic = room("resume");
    const sub = await subscriber(t, relay.url, topic, transport, "anonymous");
    const publish = await publisher(t, server.url, topic);
    await sequenceThroughDrops(t, sub, publish, async () => {
      const closes = sub.c.closes.length;
      relay.killAll();
      await waitFor(() => sub.c.closes.length > closes, 10_000, "phoenix.js to see its connection die");
    });
  });

  test(`${name}: a SIGTERM drain of the subscriber's node in a two-node Redis cluster; it resumes on the other`, { timeout: TEST_TIMEOUT }, async (t) => {
    const redis = await startRedis(t);
    if (!redis) return;
    t.after(() => redis.stop());
    const cluster = await startCluster(redis, 3, ["--shutdown-grace", "5s"]);
    t.after(() => cluster.stop());
    const [drained, survivor, spare] = cluster.nodes;
    // The balancer sends the subscriber's first connection to the node that
    // will drain; the publisher is on another.
    const proxy = await startRoundRobinProxy([drained, survivor]);
    t.after(() => proxy.stop());
    const topic = room("resume");
    const sub = await subscriber(t, proxy.url, topic, transport, "anonymous");
    const publish = await publisher(t, spare.url, topic);
    await sequenceThroughDrops(t, sub, publish, async () => {
      const closes = sub.c.closes.length;
      const rejoins = sub.replies().length;
      await drained.stop({ timeoutMs: 10_000 }); // SIGTERM: close 1012, drain, exit
      // A WebSocket sees the close. A LongPoll client sees one only if its
      // poll failed: when its next request reached the survivor instead,
      // which answers 410 for the drained node's session, phoenix.js opens a
      // new session without a close event, and the channel rejoins.
      await waitFor(() => sub.c.closes.length > closes || sub.replies().length > rejoins, 10_000, "the subscriber's socket to close, or its channel to rejoin");
    }, [100]);
    assert.equal(drained.proc.exitCode, 0, `the drained node exited cleanly:\n${drained.tail()}`);
  });
}

// ---------------------------------------------------------------- the console

const CHROMIUM = "/usr/bin/chromium";

test("the console resumes after a drop, marks the replayed events, and says when recovery failed", { timeout: TEST_TIMEOUT }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === "true") assert.fail(`${CHROMIUM} is missing and CI=true`);
    console.warn(`SKIPPED: ${CHROMIUM} not installed`);
    t.skip(`${CHROMIUM} not installed`);
    return;
  }
  const server = await startServer(["--history-size", "3"]);
  t.after(() => server.stop({ timeoutMs: 3_000 }));
  const relay = await startTcpRelay(server.port);
  t.after(() => relay.stop());
  const { chromium } = await import("playwright-core");
  const dir = await mkdtemp(path.join(tmpdir(), "fawkes-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, timeout: 30_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  t.after(async () => { await context.close().catch(() => {}); await rm(dir, { recursive: true, force: true }); });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${relay.httpURL}/`, { waitUntil: "load" });
  const topic = room("console");
  await page.fill("#room", topic.slice("events:".length));
  await page.click("#connect");
  await page.waitForSelector("#send:not([disabled])", { timeout: 10_000 });

  const publish = await (async () => {
    const c = client(t, server.url, { transport: WebSocket });
    await connect(c, 10_000);
    const channel = c.socket.channel(topic, {});
    assert.equal((await join(channel, 10_000)).status, "ok");
    return async (...ids) => {
      for (const id of ids) assert.equal((await push(channel, "cloudevent", { specversion: "1.0", id, source: "/console-test", type: "com.example.seq" })).status, "ok");
    };
  })();
  const rows = () => page.evaluate(() => [...document.querySelectorAll("#events tbody tr")].reverse()
    .map((tr) => `${tr.querySelector("td.id").textContent}${tr.classList.contains("replayed") ? "*" : ""}`));
  const resumeState = () => page.evaluate(() => document.getElementById("resume-state")?.textContent ?? "");
  const dropWhile = async (fn) => {
    relay.hold();
    relay.killAll();
    await page.waitForFunction(() => !document.getElementById("status").textContent.startsWith("connected"), null, { timeout: 10_000, polling: 25 });
    await fn();
    relay.release();
  };

  await publish("c1");
  await waitFor(async () => (await rows()).length === 1, 10_000, "c1 in the console");
  const pageLog = () => page.evaluate(() => [...document.querySelectorAll("#log li")].map((li) => li.textContent).reverse().join("\n"));
  await dropWhile(() => publish("c2", "c3"));
  await waitFor(async () => (await rows()).length === 3, 20_000, "the replay in the console")
    .catch(async (e) => { throw new Error(`${e.message}; rows ${await rows()}; console log:\n${await pageLog()}`); });
  assert.deepEqual(await rows(), ["c1", "c2*", "c3*"], "the replayed events are marked");
  assert.equal(await resumeState(), "resumed: 2 missed events replayed");
  await publish("c4");
  await waitFor(async () => (await rows()).length === 4, 10_000, "c4 live");
  assert.deepEqual(await rows(), ["c1", "c2*", "c3*", "c4"], "a live event after the replay is not marked");

  await dropWhile(() => publish("c5", "c6", "c7", "c8")); // --history-size 3: c4 is pushed out
  await waitFor(async () => (await resumeState()).startsWith("recovery failed"), 20_000, "the console to say recovery failed");
  assert.match(await resumeState(), /^recovery failed: c4 is no longer in the history/);
  assert.deepEqual(errors, [], "no page error");
});
