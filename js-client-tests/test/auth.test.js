// Authentication with Phoenix.Token (docs/protocol.md §9) through the real
// phoenix.js Socket: the binary runs with --auth phoenix-token,
// FAWKES_SECRET_KEY_BASE = "abcdefgh" x 8 and --token-max-age infinity, so
// the spec's test vectors (signed in 2023) verify. A token is accepted as
// `authToken` (the WebSocket subprotocol entry; the LongPoll
// X-Phoenix-AuthToken header) and as the `token` connect param; its data
// becomes the socket id, which --presence shows as the member's key. A
// tampered token is refused: phoenix.js sees an error and never opens.
// With --join-policy token-rooms, only rooms named in the token join.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac, pbkdf2Sync } from "node:crypto";
import { Socket, LongPoll, Presence } from "phoenix";
import WebSocket from "ws";
import { buildFawkes, startServer, stopAll, cleanup } from "./helpers/server.js";

const TEST_TIMEOUT = 20_000;
const WAIT = 3_000;

const SECRET_KEY_BASE = "abcdefgh".repeat(8);
const SALT = "user socket";
// docs/protocol.md §9: Phoenix.Token.sign(secret, "user socket", "user:42", signed_at: 1_700_000_000).
const USER_42 = "SFMyNTY.g2gDbQAAAAd1c2VyOjQybgYAAGjlz4sBYgABUYA.WmSMerRggmj2qSPGLa6lPsfc52fbn49MjIm13KtAchE";

/** USER_42 with one character of its signature changed. */
const TAMPERED = (() => {
  const i = USER_42.lastIndexOf(".") + 10;
  return USER_42.slice(0, i) + (USER_42[i] === "A" ? "B" : "A") + USER_42.slice(i + 1);
})();

let server; // --auth phoenix-token --presence
let roomsServer; // the same with --join-policy token-rooms

/**
 * Starts fawkes with FAWKES_SECRET_KEY_BASE in its environment. The variable
 * is set in this test process's environment, which the spawned server
 * inherits (each test file runs in its own process).
 */
function startWithSecret(flags) {
  process.env.FAWKES_SECRET_KEY_BASE = SECRET_KEY_BASE;
  return startServer(["--auth", "phoenix-token", "--token-max-age", "infinity", ...flags]);
}

before(async () => {
  await buildFawkes();
  server = await startWithSecret(["--presence"]);
  roomsServer = await startWithSecret(["--join-policy", "token-rooms"]);
}, { timeout: 300_000 });

after(async () => {
  await stopAll();
  await cleanup();
});

// ---------------------------------------------------------------- Phoenix.Token in Node

/** The Erlang External Term Format of strings (binaries), integers, lists and maps. */
function etf(v) {
  if (typeof v === "string") {
    const b = Buffer.from(v, "utf8");
    const h = Buffer.alloc(5);
    h[0] = 109; // BINARY_EXT
    h.writeUInt32BE(b.length, 1);
    return Buffer.concat([h, b]);
  }
  if (Number.isInteger(v)) {
    if (v >= 0 && v < 256) return Buffer.from([97, v]); // SMALL_INTEGER_EXT
    if (v >= -(2 ** 31) && v < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = 98; // INTEGER_EXT
      b.writeInt32BE(v, 1);
      return b;
    }
    const digits = []; // SMALL_BIG_EXT: little-endian bytes
    for (let n = BigInt(Math.abs(v)); n > 0n; n >>= 8n) digits.push(Number(n & 0xffn));
    return Buffer.from([110, digits.length, v < 0 ? 1 : 0, ...digits]);
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return Buffer.from([106]); // NIL_EXT
    const h = Buffer.alloc(5);
    h[0] = 108; // LIST_EXT
    h.writeUInt32BE(v.length, 1);
    return Buffer.concat([h, ...v.map(etf), Buffer.from([106])]);
  }
  const entries = Object.entries(v);
  const h = Buffer.alloc(5);
  h[0] = 116; // MAP_EXT
  h.writeUInt32BE(entries.length, 1);
  return Buffer.concat([h, ...entries.flatMap(([k, x]) => [etf(k), etf(x)])]);
}

/** Phoenix.Token.sign(secretKeyBase, salt, data, signed_at: signedAtMs / 1000, max_age: maxAge). */
function phoenixToken(data, { signedAtMs = Date.now(), maxAge = 86_400 } = {}) {
  const key = pbkdf2Sync(SECRET_KEY_BASE, SALT, 1000, 32, "sha256");
  const term = Buffer.concat([Buffer.from([131, 104, 3]), etf(data), etf(signedAtMs), etf(maxAge)]);
  const signed = "SFMyNTY." + term.toString("base64url");
  return signed + "." + createHmac("sha256", key).update(signed).digest("base64url");
}

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(predicate, ms = WAIT, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    if (predicate()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

let roomSeq = 0;
const room = () => `events:auth-${process.pid}-${++roomSeq}`;

/** A phoenix.js Socket on srv that records opens and errors; disconnected after the test. */
function client(t, srv, opts = {}) {
  const c = { opens: 0, errors: [] };
  c.socket = new Socket(srv.url, {
    transport: WebSocket,
    timeout: 2_000,
    reconnectAfterMs: () => 100,
    rejoinAfterMs: () => 100,
    ...opts,
  });
  c.socket.onOpen(() => c.opens++);
  c.socket.onError((e) => c.errors.push(e));
  t.after(() => new Promise((r) => c.socket.disconnect(r)));
  c.socket.connect();
  return c;
}

/** Joins topic; resolves {status, response}. */
function join(channel) {
  return new Promise((resolve, reject) => {
    channel.join()
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => reject(new Error(`join ${channel.topic} timed out`)));
  });
}

/** Waits for c to open, joins a room with Presence, resolves the keys listed once synced. */
async function presenceKeys(c) {
  await waitFor(() => c.opens > 0, WAIT, `the socket to open (errors: ${c.errors})`);
  const channel = c.socket.channel(room());
  const presence = new Presence(channel);
  let synced = false;
  presence.onSync(() => { synced = true; });
  assert.deepEqual(await join(channel), { status: "ok", response: {} });
  await waitFor(() => synced, WAIT, "presence_state");
  return presence.list((key) => key);
}

/** Checks c is refused: an error, and no open, for a while (phoenix.js keeps retrying). */
async function assertRefused(c) {
  await waitFor(() => c.errors.length > 0, WAIT, "phoenix.js onError");
  await sleep(300);
  assert.equal(c.opens, 0, "the socket never opened");
  assert.ok(c.errors.length >= 1);
}

// ---------------------------------------------------------------- tests

test("the Node minter reproduces the spec's vector", () => {
  assert.equal(phoenixToken("user:42", { signedAtMs: 1_700_000_000_000 }), USER_42);
});

for (const [name, transport] of [["WebSocket", WebSocket], ["LongPoll", LongPoll]]) {
  test(`${name}: the spec's token as authToken is accepted; its data is the socket id and presence key`, { timeout: TEST_TIMEOUT }, async (t) => {
    const c = client(t, server, { transport, authToken: USER_42 });
    assert.doesNotMatch(c.socket.endPointURL(), /SFMyNTY/, "the token is not in the URL");
    assert.deepEqual(await presenceKeys(c), ["user:42"]);
    if (name === "WebSocket") assert.equal(c.socket.conn.protocol, "phoenix", "the 101 selects the phoenix subprotocol");
  });

  test(`${name}: the spec's token as the token param is accepted`, { timeout: TEST_TIMEOUT }, async (t) => {
    const c = client(t, server, { transport, params: { token: USER_42 } });
    assert.deepEqual(await presenceKeys(c), ["user:42"]);
  });

  test(`${name}: a tampered authToken is refused (onError, never opens)`, { timeout: TEST_TIMEOUT }, async (t) => {
    await assertRefused(client(t, server, { transport, authToken: TAMPERED }));
  });

  test(`${name}: a tampered token param is refused`, { timeout: TEST_TIMEOUT }, async (t) => {
    await assertRefused(client(t, server, { transport, params: { token: TAMPERED } }));
  });

  test(`${name}: no token is refused`, { timeout: TEST_TIMEOUT }, async (t) => {
    await assertRefused(client(t, server, { transport }));
  });
}

test("the authToken wins over the token param, as the binary documents", { timeout: TEST_TIMEOUT }, async (t) => {
  await assertRefused(client(t, server, { authToken: TAMPERED, params: { token: USER_42 } }));
});

test("a token minted now for a map is accepted: its id is the socket id", { timeout: TEST_TIMEOUT }, async (t) => {
  const c = client(t, server, { authToken: phoenixToken({ id: "user:7" }) });
  assert.deepEqual(await presenceKeys(c), ["user:7"]);
});

test("--join-policy token-rooms: only the rooms the token names join", { timeout: TEST_TIMEOUT }, async (t) => {
  const allowed = `allowed-${process.pid}`;
  const token = phoenixToken({ id: "user:7", rooms: [allowed, "lobby"] });
  for (const transport of [WebSocket, LongPoll]) {
    const c = client(t, roomsServer, { transport, authToken: token });
    await waitFor(() => c.opens > 0, WAIT, "the socket to open");
    assert.deepEqual(await join(c.socket.channel(`events:${allowed}`)), { status: "ok", response: {} });
    assert.deepEqual(await join(c.socket.channel("events:lobby")), { status: "ok", response: {} });
    const denied = c.socket.channel(`events:other-${process.pid}`);
    assert.deepEqual(await join(denied), { status: "error", response: { reason: "unauthorized" } });
    denied.leave(); // stop phoenix.js's rejoin attempts
  }
  // The spec's token carries no rooms: it connects but joins nothing.
  const plain = client(t, roomsServer, { authToken: USER_42 });
  await waitFor(() => plain.opens > 0, WAIT, "the socket to open");
  const ch = plain.socket.channel(`events:${allowed}`);
  assert.deepEqual(await join(ch), { status: "error", response: { reason: "unauthorized" } });
  ch.leave();
});
