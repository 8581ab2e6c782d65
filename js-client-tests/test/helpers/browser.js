// Debian's chromium, headless, driven by playwright-core (which never
// downloads a browser), for the console tests.
//
//   const chromium = await launchChromium();     // null without /usr/bin/chromium
//   browserTest("name", async (t) => { const p = await openConsole(t, chromium, url, "label"); ... });
//   await chromium?.close();                      // in after()
//
// Without /usr/bin/chromium a browserTest skips loudly on a developer
// machine and FAILS in CI (CI=true), where .ci/run installs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

export const CHROMIUM = "/usr/bin/chromium";
export const UI_WAIT = 5_000; // one expectation on the page
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const haveChromium = existsSync(CHROMIUM);

/** A persistent Chromium context in a fresh --user-data-dir, or null without chromium. */
export async function launchChromium() {
  if (!haveChromium) return null;
  const { chromium } = await import("playwright-core");
  const userDataDir = await mkdtemp(path.join(tmpdir(), "fawkes-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000,
  });
  context.setDefaultTimeout(UI_WAIT);
  return {
    context,
    close: async () => {
      await context.close().catch((e) => console.error(e));
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A test that needs chromium: skips loudly without it, fails in CI without it. */
export function browserTest(name, fn, opts = {}) {
  test(name, { timeout: 45_000, ...opts }, async (t) => {
    if (!haveChromium) {
      if (process.env.CI === "true") assert.fail(`${CHROMIUM} is missing and CI=true: the browser tests must run in CI (apt-get install chromium)`);
      console.warn(`\n!!!!!!!! SKIPPED: ${CHROMIUM} not installed — apt-get install chromium !!!!!!!!\n`);
      t.skip(`${CHROMIUM} not installed`);
      return;
    }
    await fn(t);
  });
}

/**
 * Opens the console at httpURL in a new page of chromium (launchChromium's),
 * closed after t. `problems` collects page errors, console errors and failed
 * requests (a test of a healthy server asserts there are none); `sockets`
 * the WebSocket URLs the page opened.
 */
export async function openConsole(t, chromium, httpURL, label, { viewport } = {}) {
  const page = await chromium.context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const problems = [];
  const sockets = [];
  page.on("pageerror", (err) => problems.push(`[${label}] pageerror: ${err.message}`));
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`[${label}] console.error: ${msg.text()} (${msg.location().url})`); });
  page.on("requestfailed", (req) => {
    const f = req.failure()?.errorText ?? "";
    if (f !== "net::ERR_ABORTED") problems.push(`[${label}] request failed: ${req.url()} ${f}`);
  });
  page.on("websocket", (ws) => sockets.push(ws.url()));
  t.after(() => page.close().catch(() => {}));
  await page.goto(`${httpURL}/`, { waitUntil: "load" });
  assert.equal(await page.title(), "Fawkes console");
  return { page, problems, sockets, label };
}

/** Waits until the text of #id satisfies test (a RegExp or a string), with a clear message. */
export async function waitForText(page, id, want, what = `#${id}`, timeout = UI_WAIT) {
  const re = want instanceof RegExp ? want.source : `^${want.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
  const flags = want instanceof RegExp ? want.flags : "";
  try {
    await page.waitForFunction(([i, r, f]) => new RegExp(r, f).test(document.getElementById(i)?.textContent ?? ""), [id, re, flags], { timeout, polling: 25 });
  } catch (e) {
    const got = await page.evaluate((i) => document.getElementById(i)?.textContent, id).catch(() => "?");
    throw new Error(`${what}: want ${want}, have ${JSON.stringify(got)} (${e.message.split("\n")[0]})`);
  }
  return page.textContent(`#${id}`);
}

/** Connects the console with transport ("websocket" or "longpoll") and joins room. */
export async function joinFromPage(p, transport, room, { token } = {}) {
  const { page } = p;
  await page.bringToFront(); // a background page's animation frames are throttled: clicks would wait
  await page.selectOption("#transport", transport);
  await page.fill("#room", room);
  if (token !== undefined) await page.fill("#token", token);
  await page.click("#connect");
  await waitForText(page, "status", transport === "longpoll" ? "connected (LongPoll)" : "connected (WebSocket)");
  await page.waitForSelector("#send:not([disabled])", { timeout: UI_WAIT });
}
