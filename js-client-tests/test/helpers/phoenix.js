// Small helpers around the real phoenix.js Socket for the events-channel
// tests (events.test.js, longpoll.test.js, browser.test.js). Nothing here
// changes how phoenix.js behaves: the transport is only subclassed to record
// the frames the client sends, and every wait is bounded.
import assert from "node:assert/strict";
import { createHmac, pbkdf2Sync, randomUUID } from "node:crypto";
import { Socket, LongPoll } from "phoenix";
import WebSocket from "ws";

export const WAIT = 3_000; // default bound for one expectation

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls predicate every 5 ms; rejects with a clear message after ms. */
export async function waitFor(predicate, ms = WAIT, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Races a promise against a timer that rejects with a clear message. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A subclass of Transport (ws's WebSocket or phoenix's LongPoll) that records what phoenix.js sends. */
export function recording(Transport, sent) {
  const Recording = class extends Transport {
    send(data, ...rest) {
      sent.push(data);
      return super.send(data, ...rest);
    }
  };
  // phoenix.js names transports by class name (transportName); keep it recognisable.
  Object.defineProperty(Recording, "name", { value: `Recording${Transport.name}` });
  return Recording;
}

/** The transports the events flow runs over, by name. */
export const TRANSPORTS = {
  websocket: WebSocket,
  longpoll: LongPoll,
};

/**
 * A phoenix.js Socket on url with fast backoffs and short timeouts, plus what
 * it sent (`sent()`, text frames parsed) and received (`received`, decoded by
 * phoenix.js). opts.transport is the transport class (default ws's WebSocket);
 * it is wrapped to record sends unless opts.record === false. Disconnected
 * after the test t, pass or fail.
 */
export function client(t, url, opts = {}) {
  const { transport = WebSocket, record = true, ...socketOpts } = opts;
  const raw = [];
  const c = {
    raw,
    received: [],
    closes: [],
    errors: [],
    /** Text frames (or LongPoll bodies) the client sent, parsed; ndjson bodies are split. */
    sent: () =>
      raw
        .filter((d) => typeof d === "string")
        .flatMap((d) => d.split("\n"))
        .filter((l) => l.startsWith("["))
        .map((l) => JSON.parse(l)),
  };
  c.socket = new Socket(url, {
    transport: record ? recording(transport, raw) : transport,
    timeout: 2_000,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 50,
    ...socketOpts,
  });
  c.socket.onMessage((m) => c.received.push(m));
  c.socket.onClose((e) => c.closes.push(e));
  c.socket.onError((e) => c.errors.push(e));
  t.after(() => disconnect(c.socket));
  return c;
}

export function disconnect(socket) {
  return within(new Promise((r) => socket.disconnect(r)), 3_000, "socket.disconnect").catch(() => {});
}

/** Connects and resolves on onOpen. */
export async function connect(c, ms = WAIT) {
  const opened = new Promise((r) => c.socket.onOpen(r));
  c.socket.connect();
  await within(opened, ms, `socket to open (${c.socket.endPointURL()})`);
}

/** Joins; resolves {status, response} on the first ok or error reply. */
export function join(channel, ms = WAIT) {
  return within(
    new Promise((resolve, reject) => {
      channel.join()
        .receive("ok", (response) => resolve({ status: "ok", response }))
        .receive("error", (response) => resolve({ status: "error", response }))
        .receive("timeout", () => reject(new Error(`join ${channel.topic}: phoenix.js push timeout`)));
    }),
    ms,
    `the join reply on ${channel.topic}`,
  );
}

/** Pushes; resolves {status, response} on the reply. */
export function push(channel, event, payload = {}, ms = WAIT) {
  return within(
    new Promise((resolve, reject) => {
      channel.push(event, payload)
        .receive("ok", (response) => resolve({ status: "ok", response }))
        .receive("error", (response) => resolve({ status: "error", response }))
        .receive("timeout", () => reject(new Error(`push ${event} on ${channel.topic}: phoenix.js push timeout`)));
    }),
    ms,
    `the reply to ${event} on ${channel.topic}`,
  );
}

/** Resolves with the payload of the next `event` on channel. */
export function next(channel, event, ms = WAIT) {
  let ref;
  return within(
    new Promise((resolve) => {
      ref = channel.on(event, (payload) => {
        channel.off(event, ref);
        resolve(payload);
      });
    }),
    ms,
    `event ${event} on ${channel.topic}`,
  ).finally(() => channel.off(event, ref));
}

/** Collects every payload of `event` on channel into an array (live). */
export function collect(channel, event) {
  const got = [];
  channel.on(event, (payload) => got.push(payload));
  return got;
}

let roomSeq = 0;
/** A fresh room topic, unique in this process. */
export const room = (name = "room") => `events:${name}-${process.pid}-${++roomSeq}`;

/** RFC 3339 UTC with exactly 6 fractional digits, as the contract's T. */
export const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A valid CloudEvent; fields override or add attributes. */
export function cloudevent(type = "com.example.test", fields = {}) {
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: "/js-client-tests",
    type,
    ...fields,
  };
}

/** A CloudEvent using most of the attributes the contract names, with awkward data. */
export function richCloudevent(type = "com.example.rich") {
  return cloudevent(type, {
    subject: "order/42",
    time: "2026-11-25T20:32:07.721038Z",
    datacontenttype: "application/json",
    dataschema: "https://example.com/schemas/order.json",
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    priority: 7,
    urgent: true,
    data: {
      message: "héllo ✓ \u2028 \"quoted\" \\ </script>",
      n: [0, -1, 1.5, 1e21, 123456789012],
      nested: { empty: {}, list: [], nothing: null, t: true, f: false },
      emoji: "🦅",
    },
  });
}

/** Asserts the next `error` push and the error reply of one push, and that they carry the same payload. */
export async function expectRejected(channel, event, payload, ms = WAIT) {
  const pushed = next(channel, "error", ms);
  const reply = await push(channel, event, payload, ms);
  const errorPush = await pushed;
  assert.equal(reply.status, "error", `${event} ${JSON.stringify(payload)}: want an error reply, got ${JSON.stringify(reply)}`);
  assert.deepEqual(errorPush, reply.response, "the error push carries the same payload as the error reply");
  return reply.response;
}

/**
 * Asserts the `error` push came before its reply, on the wire: among c's
 * received frames for channel's topic, the last error push precedes the
 * reply to the last pushed `event`, and is stamped with the join_ref.
 */
export function assertErrorPushBeforeReply(c, channel, event) {
  const pushes = c.sent().filter((m) => m[2] === channel.topic && m[3] === event);
  const ref = pushes.at(-1)[1];
  const frames = c.received.filter((m) => m.topic === channel.topic);
  const replyAt = frames.findIndex((m) => m.event === "phx_reply" && m.ref === ref);
  assert.ok(replyAt > 0, `a reply to ${event} (ref ${ref}) arrived`);
  const before = frames[replyAt - 1];
  assert.equal(before.event, "error", `the frame before the error reply is the error push, got ${JSON.stringify(before)}`);
  assert.equal(before.ref, null, "the error push has a null ref");
  assert.equal(before.join_ref, channel.joinRef(), "the error push carries the channel's join_ref");
  assert.equal(frames[replyAt].join_ref, channel.joinRef(), "the reply carries the channel's join_ref");
}

// ------------------------------------------------------- Phoenix.Token

/**
 * Mints a Phoenix.Token exactly as Phoenix.Token.sign(secretKeyBase, salt,
 * data) does (plug_crypto: PBKDF2-SHA256 1000 iterations, 32-byte key;
 * MessageVerifier "SFMyNTY" HS256 over :erlang.term_to_binary({data,
 * signed_at_ms, max_age_s})). data may hold strings, integers, arrays and
 * plain objects (maps with string keys).
 */
export function phoenixToken(secretKeyBase, salt, data, { signedAt = Date.now(), maxAge = 86_400 } = {}) {
  const key = pbkdf2Sync(secretKeyBase, salt, 1000, 32, "sha256");
  const term = Buffer.concat([Buffer.from([131]), etf([ETF_TUPLE, data, signedAt, maxAge])]);
  const plain = `SFMyNTY.${term.toString("base64url")}`;
  const sig = createHmac("sha256", key).update(plain).digest("base64url");
  return `${plain}.${sig}`;
}

const ETF_TUPLE = Symbol("tuple");

function etf(v) {
  if (Array.isArray(v) && v[0] === ETF_TUPLE) {
    const items = v.slice(1);
    return Buffer.concat([Buffer.from([104, items.length]), ...items.map(etf)]);
  }
  if (typeof v === "string") {
    const b = Buffer.from(v, "utf8");
    const h = Buffer.alloc(5);
    h[0] = 109; // BINARY_EXT
    h.writeUInt32BE(b.length, 1);
    return Buffer.concat([h, b]);
  }
  if (typeof v === "number" && Number.isInteger(v)) {
    if (v >= 0 && v < 256) return Buffer.from([97, v]); // SMALL_INTEGER_EXT
    if (v >= -(2 ** 31) && v < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = 98; // INTEGER_EXT
      b.writeInt32BE(v, 1);
      return b;
    }
    let n = BigInt(Math.abs(v));
    const digits = [];
    while (n > 0n) { digits.push(Number(n & 0xffn)); n >>= 8n; }
    return Buffer.from([110, digits.length, v < 0 ? 1 : 0, ...digits]); // SMALL_BIG_EXT
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return Buffer.from([106]); // NIL_EXT
    const h = Buffer.alloc(5);
    h[0] = 108; // LIST_EXT
    h.writeUInt32BE(v.length, 1);
    return Buffer.concat([h, ...v.map(etf), Buffer.from([106])]);
  }
  if (v && typeof v === "object") {
    const entries = Object.entries(v);
    const h = Buffer.alloc(5);
    h[0] = 116; // MAP_EXT
    h.writeUInt32BE(entries.length, 1);
    return Buffer.concat([h, ...entries.flatMap(([k, val]) => [etf(k), etf(val)])]);
  }
  throw new Error(`phoenixToken: cannot encode ${typeof v} ${String(v)}`);
}
