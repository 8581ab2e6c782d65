// The operator console (cmd/fawkes/console) in Debian's chromium: the
// figures (connections, rooms, nodes, messages per second), the presence
// list, the states an operator must tell apart (connecting, reconnecting,
// refused with the reason, disconnected), the token field, the bounded
// events table with sent and received told apart, a narrow screen, and the
// figures behind credentials on a public address.
//
// browser.test.js covers sending, receiving and filtering over WebSocket
// and LongPoll. Screenshots go to js-client-tests/artifacts/.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { buildFawkes, startServer, stopAll, cleanup } from "./helpers/server.js";
import { WAIT, client, connect, join, push, collect, room, cloudevent, waitFor, phoenixToken, sleep } from "./helpers/phoenix.js";
import { launchChromium, browserTest, openConsole, joinFromPage, waitForText, UI_WAIT } from "./helpers/browser.js";
import { startRedis, startCluster } from "./helpers/cluster.js";

const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));
const SECRET = "console-tests-secret-key-base-".padEnd(64, "0123456789");

let chromium;
let server; // --presence, loopback: the console and its figures are open

before(async () => {
  await buildFawkes();
  server = await startServer(["--presence", "--heartbeat-interval", "0"]);
  chromium = await launchChromium();
  await mkdir(ARTIFACTS, { recursive: true });
}, { timeout: 300_000 });

after(async () => {
  if (chromium) await chromium.close();
  await stopAll();
  await cleanup();
});

/** A Node phoenix.js member of topic over WebSocket, with join payload. */
async function nodeMember(t, srv, topic, payload = {}, params = {}) {
  const c = client(t, srv.url, { transport: WebSocket, params });
  await connect(c);
  const ch = c.socket.channel(topic, payload);
  assert.equal((await join(ch)).status, "ok");
  return { c, ch, got: collect(ch, "cloudevent") };
}

const roomName = (topic) => topic.slice("events:".length);

browserTest("console: live connection, room and node counts, and a messages/s chart that moves", async (t) => {
  const p = await openConsole(t, chromium, server.httpURL, "figures");
  const { page } = p;
  await waitForText(page, "stats-state", /^live/);
  await waitForText(page, "stat-nodes", "1 (no cluster)");
  const topic = room("console-figures");
  await joinFromPage(p, "websocket", roomName(topic));
  const a = await nodeMember(t, server, topic);
  const b = await nodeMember(t, server, room("console-figures-other"));
  // The page, a and b: three connections in two rooms (other tests' members are gone by now).
  await waitForText(page, "stat-connections", "3");
  await waitForText(page, "stat-rooms", "2");

  // Traffic: a burst of pings for a few seconds; the in and out rates rise
  // above zero and the chart draws them.
  const until = Date.now() + 2_500;
  while (Date.now() < until) {
    await Promise.all(Array.from({ length: 20 }, () => push(b.ch, "ping", {})));
  }
  await waitForText(page, "stat-rate-in", /^[1-9]\d*\.\d$/, "messages/s in");
  await waitForText(page, "stat-rate-out", /^[1-9]\d*\.\d$/, "messages/s out");
  const points = await page.getAttribute("#chart-in", "points");
  const ys = points.trim().split(" ").map((xy) => Number(xy.split(",")[1]));
  assert.ok(ys.length >= 2, `the chart has points: ${points}`);
  assert.ok(Math.min(...ys) < 70, `the chart shows the burst (y ${Math.min(...ys)} of 80): ${points}`);
  assert.match(await page.textContent("#server-info"), /pub\/sub memory · auth none/);
  await page.screenshot({ path: path.join(ARTIFACTS, "console-figures.png"), fullPage: true });
  assert.deepEqual(p.problems, []);
  a.c.socket.disconnect();
});

browserTest("console: the presence list of the room follows joins and leaves", async (t) => {
  const topic = room("console-presence");
  const p = await openConsole(t, chromium, server.httpURL, "presence");
  const member = await nodeMember(t, server, topic, { meta: { name: "ada" } }, { user_id: "ada" });
  await joinFromPage(p, "longpoll", roomName(topic));
  const { page } = p;
  await waitForText(page, "presence-count", "2");
  const items = await page.$$eval("#presence-list li", (lis) => lis.map((li) => li.textContent));
  assert.ok(items.some((s) => /^ada · 1 connection · since /.test(s)), `the Node member is listed: ${items}`);
  assert.ok(items.some((s) => /\(a console\) · 1 connection/.test(s)), `the console itself is listed: ${items}`);
  member.c.socket.disconnect();
  await waitForText(page, "presence-count", "1");
  assert.deepEqual(p.problems, []);
});

browserTest("console: reconnecting while the server is down, connected when it is back, disconnected on request", async (t) => {
  const own = await startServer(["--heartbeat-interval", "0"]);
  const p = await openConsole(t, chromium, own.httpURL, "restart");
  const { page } = p;
  await joinFromPage(p, "websocket", "lobby");
  await own.stop();
  // The drain closes with 1012; then nothing answers.
  await waitForText(page, "status", /^reconnecting \(attempt \d+\)/);
  await waitForText(page, "status", /^reconnecting \(attempt \d+\): server unreachable$/);
  assert.match(await page.getAttribute("#status", "class"), /\bwait\b/);
  await waitForText(page, "stats-state", "figures: server unreachable");

  const again = await startServer(["--heartbeat-interval", "0"], { port: own.port });
  t.after(() => again.stop());
  // phoenix.js backs off up to 5 s between attempts (the console's reconnectAfterMs).
  await waitForText(page, "status", "connected (WebSocket)", "#status after the restart", 8_000);
  await page.waitForSelector("#send:not([disabled])", { timeout: UI_WAIT }); // joined again
  await waitForText(page, "stats-state", /^live/);

  await page.click("#disconnect");
  await waitForText(page, "status", "disconnected");
  const sockets = p.sockets.length;
  await sleep(1_000);
  assert.equal(p.sockets.length, sockets, "no reconnect after a manual disconnect");
  assert.equal(await page.textContent("#status"), "disconnected");
});

browserTest("console: with --auth phoenix-token, a token field; refused with the reason, without retrying; connected with a good token", async (t) => {
  const srv = await startServer(["--auth", "phoenix-token", "--heartbeat-interval", "0"], { env: { FAWKES_SECRET_KEY_BASE: SECRET } });
  t.after(() => srv.stop());
  const p = await openConsole(t, chromium, srv.httpURL, "auth");
  const { page } = p;
  await page.waitForSelector("#token-field:not([hidden])", { timeout: UI_WAIT });

  for (const [token, reason] of [["", "token missing"], ["not-a-token", "token invalid"],
    [phoenixToken(SECRET, "user socket", "u1", { signedAt: Date.now() - 3 * 86_400_000 }), "token expired"]]) {
    await page.fill("#token", token);
    await page.click("#connect");
    await waitForText(page, "status", `refused: ${reason}`);
    assert.match(await page.getAttribute("#status", "class"), /\berr\b/);
  }
  await sleep(1_000);
  assert.deepEqual(p.sockets, [], "a refused console opens no socket, so it cannot retry against 403");
  assert.equal(await page.textContent("#status"), "refused: token expired", "the refusal stays on screen");

  // The figures, like POST /events, want a token when --auth is on: refused until a good one is given.
  assert.match(await page.textContent("#stats-state"), /^figures refused: /);
  await joinFromPage(p, "websocket", "lobby", { token: phoenixToken(SECRET, "user socket", "u1") });
  assert.equal(p.sockets.length, 1);
  await waitForText(page, "stats-state", /^live/);
  assert.deepEqual(p.problems.filter((s) => !s.includes("status of 401") || !s.includes("/console/stats")), []);
});

browserTest("console: the events table keeps the newest 200 rows, sent and received told apart", async (t) => {
  const topic = room("console-bounded");
  const p = await openConsole(t, chromium, server.httpURL, "bounded");
  await joinFromPage(p, "websocket", roomName(topic));
  const member = await nodeMember(t, server, topic);
  const { page } = p;

  const n = 230;
  for (let i = 0; i < n; i++) {
    const r = await push(member.ch, "cloudevent", cloudevent("com.example.bounded", { id: `b-${i}` }));
    assert.equal(r.status, "ok");
  }
  await waitForText(page, "count", String(n));
  const rows = await page.$$eval("#events tbody tr", (trs) => trs.map((tr) => [tr.className, tr.querySelector("td.id").textContent]));
  assert.equal(rows.length, 200, "the table is bounded");
  assert.deepEqual(rows[0], ["received", `b-${n - 1}`], "the newest on top");
  assert.deepEqual(rows.at(-1), ["received", `b-${n - 200}`], "the oldest dropped");
  assert.equal(await page.textContent("#shown"), "(the newest 200 shown)");

  await page.fill("#ce-type", "com.example.from-console");
  await page.click("#send");
  await waitForText(page, "send-result", /^sent \S+$/);
  await waitFor(() => member.got.some((e) => e.type === "com.example.from-console"), WAIT, "the console's event at the member");
  const top = await page.$eval("#events tbody tr", (tr) => ({ cls: tr.className, dir: tr.querySelector("td.dir").textContent, type: tr.querySelector("td.type").textContent }));
  assert.deepEqual(top, { cls: "sent", dir: "sent", type: "com.example.from-console" });
  const colours = await page.$$eval("#events tbody tr.sent td.dir, #events tbody tr.received td.dir", (tds) => [...new Set(tds.map((td) => getComputedStyle(td).color))]);
  assert.equal(colours.length, 2, `sent and received rows look different: ${colours}`);
  assert.deepEqual(p.problems, []);
});

browserTest("console: usable on a narrow screen (360 px): no sideways scrolling of the page, the table scrolls in its box", async (t) => {
  const topic = room("console-narrow");
  const p = await openConsole(t, chromium, server.httpURL, "narrow", { viewport: { width: 360, height: 740 } });
  await joinFromPage(p, "websocket", roomName(topic));
  const member = await nodeMember(t, server, topic);
  const long = cloudevent("com.example.a-rather-long.event-type.name", { data: { text: "x".repeat(400), list: Array.from({ length: 40 }, (_, i) => i) } });
  await push(member.ch, "cloudevent", long);
  const { page } = p;
  await waitForText(page, "count", "1");
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, view: window.innerWidth }));
  assert.ok(widths.page <= widths.view, `the page scrolls sideways: ${widths.page} > ${widths.view} px`);
  for (const id of ["connect", "send", "status", "stat-connections", "presence-count"]) {
    const box = await page.locator(`#${id}`).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= widths.view + 1, `#${id} is on screen: ${JSON.stringify(box)}`);
  }
  await page.screenshot({ path: path.join(ARTIFACTS, "console-narrow.png"), fullPage: true });
  assert.deepEqual(p.problems, []);
});

browserTest("console: on a public address (--console on) the figures need the ingress token; the page says so and takes it", async (t) => {
  const srv = await startServer(["--addr", "0.0.0.0:0", "--console", "on"], { env: { FAWKES_INGRESS_TOKEN: "ingress-secret" } });
  t.after(() => srv.stop());
  assert.ok(srv.logs.some((l) => l.level === "warn" && l.setting === "console"), "a start-up warning names --console");
  const p = await openConsole(t, chromium, srv.httpURL, "public");
  const { page } = p;
  await waitForText(page, "stats-state", /^figures refused: a token is required/);
  await page.waitForSelector("#token-field:not([hidden])", { timeout: UI_WAIT });
  assert.equal(await page.textContent("#stat-connections"), "–", "no figures without the token");
  await page.fill("#token", "ingress-secret");
  await waitForText(page, "stats-state", /^live/);
  await waitForText(page, "stat-connections", "0");
  p.problems.splice(0); // the 401s before the token was given are the point of this test
  // A socket needs no token here (--auth none): the token field is for the figures.
  await joinFromPage(p, "websocket", "lobby");
  assert.deepEqual(p.problems.filter((s) => !s.includes("/console/stats")), []);
});

browserTest("console: in a cluster, the node count", async (t) => {
  const redis = await startRedis(t);
  if (!redis) return;
  t.after(() => redis.stop());
  const cluster = await startCluster(redis, 2, ["--heartbeat-interval", "0"]);
  t.after(() => cluster.stop());
  const p = await openConsole(t, chromium, cluster.nodes[0].httpURL, "cluster");
  await waitForText(p.page, "stat-nodes", "2");
  assert.match(await p.page.textContent("#server-info"), /pub\/sub redis/);
  await cluster.nodes[1].stop();
  // A node stopped with SIGTERM leaves the member set at once.
  await waitForText(p.page, "stat-nodes", "1");
  assert.deepEqual(p.problems, []);
});
