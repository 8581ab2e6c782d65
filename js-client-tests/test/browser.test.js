// The live console page (cmd/fawkes/console, served by the binary at "/") in
// a real browser: playwright-core driving Debian's chromium headless, over
// WebSocket and over LongPoll, next to Node phoenix.js clients in the same
// room. playwright-core never downloads a browser; it runs /usr/bin/chromium.
//
// Without /usr/bin/chromium the tests skip loudly on a developer machine and
// FAIL in CI (CI=true), where .ci/run installs it.
//
// Screenshots of the console are kept in js-client-tests/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { buildFawkes, startServer, stopAll, cleanup } from "./helpers/server.js";
import { WAIT, within, client, connect, join, push, collect, room, cloudevent, richCloudevent, waitFor } from "./helpers/phoenix.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TEST_TIMEOUT = 30_000;
const UI_WAIT = 5_000; // one expectation on the page
const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));
const SKIP_MESSAGE = `SKIPPED: ${CHROMIUM} not installed — apt-get install chromium`;

const haveChromium = existsSync(CHROMIUM);
const inCI = process.env.CI === "true";

let server;
let context; // a persistent Chromium context (its own fresh --user-data-dir)
let userDataDir;

before(async () => {
  await buildFawkes();
  server = await startServer([]);
  if (!haveChromium) return;
  const { chromium } = await import("playwright-core");
  userDataDir = await mkdtemp(path.join(tmpdir(), "fawkes-chromium-"));
  // launchPersistentContext is how playwright takes a --user-data-dir (launch() refuses the flag).
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  context.setDefaultTimeout(UI_WAIT);
  await mkdir(ARTIFACTS, { recursive: true });
}, { timeout: 300_000 });

after(async () => {
  // The browser goes first, so that its connections close before the server stops.
  if (context) await within(context.close(), 15_000, "chromium to close").catch((e) => console.error(e));
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await stopAll();
  await cleanup();
});

/** A test that needs chromium: skips loudly without it, fails in CI without it. */
function browserTest(name, fn, opts = {}) {
  test(name, { timeout: TEST_TIMEOUT, ...opts }, async (t) => {
    if (!haveChromium) {
      if (inCI) assert.fail(`${CHROMIUM} is missing and CI=true: the browser tests must run in CI (apt-get install chromium)`);
      console.warn(`\n!!!!!!!! ${SKIP_MESSAGE} !!!!!!!!\n`);
      t.skip(SKIP_MESSAGE);
      return;
    }
    await fn(t);
  });
}

/**
 * Opens the console in a new page, recording page errors, console errors and
 * the requests it makes. The page is closed after t; the test fails on any
 * error the page reported.
 */
async function openConsole(t, label) {
  const page = await context.newPage();
  const problems = [];
  const favicon = []; // kept apart so the favicon test can name them
  const requests = [];
  const sockets = [];
  page.on("pageerror", (err) => problems.push(`[${label}] pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = `[${label}] console.error: ${msg.text()} (${msg.location().url})`;
    if (new URL(msg.location().url || "about:blank").pathname === "/favicon.ico") favicon.push(text);
    else problems.push(text);
  });
  page.on("response", (res) => {
    if (res.status() >= 400) (new URL(res.url()).pathname === "/favicon.ico" ? favicon : problems).push(`[${label}] HTTP ${res.status()} ${res.url()}`);
  });
  page.on("requestfailed", (req) => {
    // Requests cut short by closing the page or disconnecting (a pending long poll) are not errors.
    const f = req.failure()?.errorText ?? "";
    if (f !== "net::ERR_ABORTED") problems.push(`[${label}] request failed: ${req.url()} ${f}`);
  });
  page.on("request", (req) => requests.push(req.url()));
  page.on("websocket", (ws) => sockets.push(ws.url()));
  t.after(async () => {
    await page.close().catch(() => {});
  });
  await page.goto(`${server.httpURL}/`, { waitUntil: "load" });
  assert.equal(await page.title(), "Fawkes console");
  return { page, problems, favicon, requests, sockets, label };
}

/** Connects the console with the transport ("websocket" or "longpoll") and joins topic's room. */
async function joinFromPage(p, transport, topic) {
  const { page } = p;
  await page.bringToFront(); // a background page's animation frames are throttled: clicks would wait
  await page.selectOption("#transport", transport);
  await page.fill("#room", topic.slice("events:".length));
  await page.click("#connect");
  const want = transport === "longpoll" ? "connected (LongPoll)" : "connected (WebSocket)";
  await page.waitForFunction((w) => document.getElementById("status").textContent === w, want, { timeout: UI_WAIT, polling: 25 });
  // Joined: the console enables Send and logs the join.
  await page.waitForSelector("#send:not([disabled])", { timeout: UI_WAIT });
  await page.waitForFunction((tp) => [...document.querySelectorAll("#log li")].some((li) => li.textContent.includes(`joined ${tp}`)), topic, { timeout: UI_WAIT, polling: 25 });
}

/** The cells of the events table row whose id cell is id, or null. */
function rowById(page, id) {
  return page.evaluate((wanted) => {
    for (const tr of document.querySelectorAll("#events tbody tr")) {
      const cells = Object.fromEntries([...tr.cells].map((td) => [td.className, td.textContent]));
      if (cells.id === wanted) return cells;
    }
    return null;
  }, id);
}

async function waitForRow(page, id, what) {
  await page.waitForFunction((wanted) => [...document.querySelectorAll("#events tbody td.id")].some((td) => td.textContent === wanted), id, { timeout: UI_WAIT, polling: 25 })
    .catch((e) => { throw new Error(`${what}: no row with id ${id} in the events table (${e.message})`); });
  return rowById(page, id);
}

/** The transport the page's phoenix.js really used, from its traffic. */
function assertTraffic(p, transport) {
  const longpolls = p.requests.filter((u) => u.includes("/socket/longpoll"));
  if (transport === "longpoll") {
    assert.ok(longpolls.length > 0, `[${p.label}] LongPoll requests were made`);
    assert.deepEqual(p.sockets, [], `[${p.label}] no WebSocket was opened`);
  } else {
    assert.ok(p.sockets.some((u) => u.includes("/socket/websocket?vsn=2.0.0")), `[${p.label}] a WebSocket to /socket/websocket: ${p.sockets}`);
    assert.deepEqual(longpolls, [], `[${p.label}] no LongPoll requests`);
  }
}

function assertNoPageErrors(...pages) {
  assert.deepEqual(pages.flatMap((p) => p.problems), [], "the console page reported errors");
}

/** A Node phoenix.js member of topic over WebSocket, collecting cloudevents. */
async function nodeMember(t, topic) {
  const c = client(t, server.url, { transport: WebSocket });
  await connect(c);
  const ch = c.socket.channel(topic);
  assert.equal((await join(ch)).status, "ok");
  return { c, ch, got: collect(ch, "cloudevent") };
}

// Chromium asks for /favicon.ico once per host, on the first page: this test
// is registered first so that it sees that request; the server answers 204
// (the page declares an empty icon too), so nothing is logged.
browserTest("browser: the console loads without a single console error, favicon included", async (t) => {
  const p = await openConsole(t, "first-load");
  await joinFromPage(p, "websocket", room("browser-first-load"));
  await waitFor(() => p.requests.some((u) => u.endsWith("/favicon.ico")), 2_000, "chromium's favicon request").catch(() => {});
  const res = await fetch(`${server.httpURL}/favicon.ico`);
  await res.arrayBuffer();
  assert.notEqual(res.status, 404, "GET /favicon.ico must not be 404 (browsers ask for it)");
  assert.deepEqual([...p.problems, ...p.favicon], [], "the console page reported errors");
});

for (const transport of ["websocket", "longpoll"]) {
  browserTest(`browser [${transport}]: a CloudEvent sent from the console's form reaches a Node client and a second page`, async (t) => {
    const topic = room(`browser-send-${transport}`);
    const sender = await openConsole(t, "sender");
    const watcher = await openConsole(t, "watcher");
    await joinFromPage(sender, transport, topic);
    await joinFromPage(watcher, transport, topic);
    const node = await nodeMember(t, topic);

    const { page } = sender;
    await page.bringToFront();
    await page.fill("#ce-type", "com.example.browser.sent");
    await page.fill("#ce-source", "/browser-test");
    await page.fill("#ce-subject", `subject-${transport}`);
    await page.fill("#ce-data", '{"text":"héllo from chromium ✓","n":[1,2.5,null],"ok":true}');
    await page.click("#send");
    await page.waitForFunction(() => /^sent \S+$/.test(document.getElementById("send-result").textContent), null, { timeout: UI_WAIT, polling: 25 });
    const id = (await page.textContent("#send-result")).slice("sent ".length);

    // The Node member got exactly what the form built.
    await waitFor(() => node.got.length >= 1, WAIT, "the form's event at the Node client");
    const ev = node.got[0];
    assert.deepEqual(ev, {
      specversion: "1.0",
      id,
      source: "/browser-test",
      type: "com.example.browser.sent",
      time: ev.time,
      datacontenttype: "application/json",
      subject: `subject-${transport}`,
      data: { text: "héllo from chromium ✓", n: [1, 2.5, null], ok: true },
    });
    assert.ok(!Number.isNaN(Date.parse(ev.time)), `time ${ev.time}`);

    // The second page shows it in its table.
    const row = await waitForRow(watcher.page, id, "the watcher page");
    assert.deepEqual(row, {
      dir: "received",
      time: ev.time,
      type: "com.example.browser.sent",
      source: "/browser-test",
      id,
      data: JSON.stringify(ev.data),
    });
    assert.equal(await watcher.page.textContent("#count"), "1");
    // The sender's own table has it too, told apart as sent.
    assert.equal((await rowById(sender.page, id))?.dir, "sent", "the sender shows its event as sent");

    assertTraffic(sender, transport);
    assertTraffic(watcher, transport);
    await watcher.page.screenshot({ path: path.join(ARTIFACTS, `console-${transport}-received.png`), fullPage: true });
    assertNoPageErrors(sender, watcher);
  });

  browserTest(`browser [${transport}]: events from a Node client appear in the table; a type filter hides the rest`, async (t) => {
    const topic = room(`browser-table-${transport}`);
    const p = await openConsole(t, "viewer");
    await joinFromPage(p, transport, topic);
    assert.equal(await p.page.textContent("#filter-state"), "all types");
    const node = await nodeMember(t, topic);
    const { page } = p;

    // Every column: time, type, source, id, data.
    const ev = richCloudevent("com.example.table");
    assert.deepEqual(await push(node.ch, "cloudevent", ev), { status: "ok", response: { id: ev.id } });
    const row = await waitForRow(page, ev.id, "the Node client's event");
    assert.deepEqual(row, { dir: "received", time: ev.time, type: ev.type, source: ev.source, id: ev.id, data: JSON.stringify(ev.data) });
    // data_base64 is shown as such.
    const b64 = cloudevent("com.example.bytes", { time: "2026-01-02T03:04:05.123456Z", data_base64: "AAEC" });
    await push(node.ch, "cloudevent", b64);
    assert.deepEqual(await waitForRow(page, b64.id, "the data_base64 event"),
      { dir: "received", time: b64.time, type: b64.type, source: b64.source, id: b64.id, data: "base64:AAEC" });

    // Filter: only com.example.*.
    await page.fill("#patterns", "com.example.*");
    await page.click("#apply-filter");
    await page.waitForFunction(() => document.getElementById("filter-state").textContent === "com.example.*", null, { timeout: UI_WAIT, polling: 25 });
    const hidden = cloudevent("com.other.hidden", { time: "2026-01-02T03:04:05.000001Z", data: { hidden: true } });
    const shown = cloudevent("com.example.shown", { time: "2026-01-02T03:04:05.000002Z", data: { shown: true } });
    assert.equal((await push(node.ch, "cloudevent", hidden)).status, "ok");
    assert.equal((await push(node.ch, "cloudevent", shown)).status, "ok");
    // Delivery is in order: once the later, matching event is shown, the earlier one would have been too.
    await waitForRow(page, shown.id, "the matching event after the filter");
    assert.equal(await rowById(page, hidden.id), null, "a non-matching event must not appear");
    assert.equal(await page.textContent("#count"), "3");

    // An empty filter means every type again (the console unsubscribes).
    await page.fill("#patterns", "");
    await page.click("#apply-filter");
    await page.waitForFunction(() => document.getElementById("filter-state").textContent === "all types", null, { timeout: UI_WAIT, polling: 25 });
    // (The console shows "all types" from the unsubscribe's ok reply, so the server has applied it.)
    const again = cloudevent("com.other.visible-again", { time: "2026-01-02T03:04:05.000003Z" });
    await push(node.ch, "cloudevent", again);
    assert.deepEqual(await waitForRow(page, again.id, "a non-matching type after clearing the filter"),
      { dir: "received", time: again.time, type: again.type, source: again.source, id: again.id, data: "" });

    assertTraffic(p, transport);
    await page.screenshot({ path: path.join(ARTIFACTS, `console-${transport}-filter.png`), fullPage: true });
    assertNoPageErrors(p);
  });
}

browserTest("browser: a WebSocket page and a LongPoll page share a room", async (t) => {
  const topic = room("browser-mixed");
  const ws = await openConsole(t, "ws-page");
  const lp = await openConsole(t, "lp-page");
  await joinFromPage(ws, "websocket", topic);
  await joinFromPage(lp, "longpoll", topic);
  for (const [from, to] of [[ws, lp], [lp, ws]]) {
    await from.page.bringToFront();
    await from.page.fill("#ce-type", `com.example.from-${from.label}`);
    await from.page.click("#send");
    await from.page.waitForFunction(() => /^sent \S+$/.test(document.getElementById("send-result").textContent), null, { timeout: UI_WAIT, polling: 25 });
    const id = (await from.page.textContent("#send-result")).slice("sent ".length);
    const row = await waitForRow(to.page, id, `${from.label} → ${to.label}`);
    assert.equal(row.type, `com.example.from-${from.label}`);
    assert.equal(row.data, JSON.stringify({ message: "hello" }), "the form's default data");
    await from.page.evaluate(() => { document.getElementById("send-result").textContent = ""; });
  }
  assertTraffic(ws, "websocket");
  assertTraffic(lp, "longpoll");
  assertNoPageErrors(ws, lp);
});
