// phoenix.js `Presence` (the npm class, unmodified) on events topics of the
// real fawkes binary started with --presence: three sockets see each other
// join with their meta (onJoin, onSync, list), leave (onLeave), and drop.
// Without auth the presence key is the "user_id" connect param; with
// --auth phoenix-token it is the socket id (auth.test.js checks that).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Socket, Presence } from "phoenix";
import WebSocket from "ws";
import { buildFawkes, startServer, stopAll, cleanup } from "./helpers/server.js";

const TEST_TIMEOUT = 20_000;
const WAIT = 3_000;

let server;

before(async () => {
  await buildFawkes();
  server = await startServer(["--presence"]);
}, { timeout: 300_000 });

after(async () => {
  await stopAll();
  await cleanup();
});

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
const room = () => `events:presence-${process.pid}-${++roomSeq}`;

/**
 * A member: a phoenix.js Socket with user_id param, its channel on topic with
 * payload, and a Presence recording onJoin/onLeave/onSync. Disconnected after
 * the test.
 */
function member(t, topic, params, payload = {}) {
  const socket = new Socket(server.url, {
    transport: WebSocket,
    params,
    timeout: 2_000,
    reconnectAfterMs: () => 50,
    rejoinAfterMs: () => 50,
  });
  const channel = socket.channel(topic, payload);
  const presence = new Presence(channel);
  const m = { socket, channel, presence, joins: [], leaves: [], syncs: 0 };
  presence.onJoin((key, current, joined) => m.joins.push({ key, current, metas: joined.metas }));
  presence.onLeave((key, current, left) => m.leaves.push({ key, remaining: current.metas.length, metas: left.metas }));
  presence.onSync(() => m.syncs++);
  t.after(() => new Promise((r) => socket.disconnect(r)));
  return m;
}

function connectAndJoin(m) {
  m.socket.connect();
  return new Promise((resolve, reject) => {
    m.channel.join()
      .receive("ok", resolve)
      .receive("error", (e) => reject(new Error(`join refused: ${JSON.stringify(e)}`)))
      .receive("timeout", () => reject(new Error("join timed out")));
  });
}

/** presence.list() as {key: [meta without phx_ref, ...]}, keys sorted. */
function listed(m) {
  const out = {};
  for (const { key, metas } of m.presence.list((key, p) => ({ key, metas: p.metas }))) {
    out[key] = metas.map(({ phx_ref, ...rest }) => {
      assert.match(phx_ref, /^[A-Za-z0-9_-]{16}$/, "phx_ref: 16 URL-safe base64 characters");
      return rest;
    });
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

const keys = (m) => Object.keys(listed(m));

// ---------------------------------------------------------------- tests

test("three sockets: join, onJoin/onSync/list with meta, leave, drop", { timeout: TEST_TIMEOUT }, async (t) => {
  const topic = room();
  const t0 = Math.floor(Date.now() / 1000);
  const alice = member(t, topic, { user_id: "alice" }, { meta: { name: "Alice", device: "laptop" } });
  const bob = member(t, topic, { user_id: "bob" }, { meta: { name: "Bob" } });
  const carol = member(t, topic, { user_id: "carol" }); // no meta: online_at only

  await connectAndJoin(alice);
  await waitFor(() => alice.syncs > 0, WAIT, "alice's first onSync");
  assert.deepEqual(keys(alice), ["alice"], "alice's state lists herself");

  await connectAndJoin(bob);
  await connectAndJoin(carol);
  for (const [name, m] of Object.entries({ alice, bob, carol })) {
    await waitFor(() => keys(m).length === 3, WAIT, `${name} to list three members (has ${keys(m)})`);
  }
  const t1 = Math.floor(Date.now() / 1000);

  // Everyone sees the same members with their meta: online_at (the server's
  // unix seconds) plus what the join asked for.
  for (const m of [alice, bob, carol]) {
    const l = listed(m);
    for (const key of ["alice", "bob", "carol"]) {
      assert.equal(l[key].length, 1, `${key}: one meta`);
      assert.ok(Number.isInteger(l[key][0].online_at) && l[key][0].online_at >= t0 && l[key][0].online_at <= t1,
        `${key}: online_at ${l[key][0].online_at} within [${t0}, ${t1}]`);
    }
    assert.deepEqual(
      Object.fromEntries(Object.entries(l).map(([k, [{ online_at, ...meta }]]) => [k, meta])),
      { alice: { name: "Alice", device: "laptop" }, bob: { name: "Bob" }, carol: {} },
    );
  }
  // onJoin fired for each new member (alice saw bob and carol join after her sync).
  assert.deepEqual([...new Set(alice.joins.map((j) => j.key))].sort(), ["alice", "bob", "carol"]);
  assert.ok(alice.joins.filter((j) => j.key === "bob").every((j) => j.metas[0].name === "Bob"));
  assert.ok(carol.syncs > 0 && bob.syncs > 0);

  // Bob leaves the channel: the others get onLeave and list two.
  const syncsBefore = alice.syncs;
  await new Promise((r) => bob.channel.leave().receive("ok", r));
  for (const [name, m] of Object.entries({ alice, carol })) {
    await waitFor(() => m.leaves.some((l) => l.key === "bob"), WAIT, `${name}'s onLeave for bob`);
    assert.deepEqual(keys(m), ["alice", "carol"], `${name} lists alice and carol`);
  }
  const bobLeave = alice.leaves.find((l) => l.key === "bob");
  assert.equal(bobLeave.remaining, 0, "bob had one meta: none remains");
  assert.equal(bobLeave.metas[0].name, "Bob", "onLeave gets the meta that left");
  assert.ok(alice.syncs > syncsBefore, "onSync after the leave");

  // Carol's connection drops (disconnect without leaving): alice sees her leave.
  carol.socket.disconnect();
  await waitFor(() => alice.leaves.some((l) => l.key === "carol"), WAIT, "alice's onLeave for carol after the drop");
  assert.deepEqual(keys(alice), ["alice"]);
});

test("a key joined from two sockets has two metas; one leaving keeps the key", { timeout: TEST_TIMEOUT }, async (t) => {
  const topic = room();
  const observer = member(t, topic, { user_id: "observer" });
  const tab1 = member(t, topic, { user_id: "dana" }, { meta: { tab: 1 } });
  const tab2 = member(t, topic, { user_id: "dana" }, { meta: { tab: 2 } });
  await connectAndJoin(observer);
  await connectAndJoin(tab1);
  await connectAndJoin(tab2);
  await waitFor(() => listed(observer).dana?.length === 2, WAIT, "dana with two metas");
  assert.deepEqual(listed(observer).dana.map((m) => m.tab), [1, 2]);

  tab1.socket.disconnect();
  await waitFor(() => observer.leaves.some((l) => l.key === "dana"), WAIT, "onLeave for dana's first tab");
  const leave = observer.leaves.find((l) => l.key === "dana");
  assert.equal(leave.remaining, 1, "one meta remains");
  assert.deepEqual(listed(observer).dana.map((m) => m.tab), [2]);
});

test("a reconnect and rejoin gets a fresh presence_state", { timeout: TEST_TIMEOUT }, async (t) => {
  const topic = room();
  const a = member(t, topic, { user_id: "erin" });
  const b = member(t, topic, { user_id: "frank" });
  await connectAndJoin(a);
  await connectAndJoin(b);
  await waitFor(() => keys(a).length === 2 && keys(b).length === 2, WAIT, "both listed by both");

  // Closing the transport makes phoenix.js reconnect and rejoin with a new
  // join_ref: the state it gets again still shows both, and a's list
  // recovers both members without duplicates.
  const syncs = b.syncs;
  const framesJoins = a.joins.filter((j) => j.key === "frank").length;
  b.socket.conn.close(4000, "test");
  await waitFor(() => a.leaves.some((l) => l.key === "frank"), WAIT, "a's onLeave for frank when his connection closed");
  await waitFor(() => b.syncs > syncs && b.channel.state === "joined", 5_000, "b to rejoin and sync");
  await waitFor(() => a.joins.filter((j) => j.key === "frank").length > framesJoins, WAIT, "a's onJoin for frank again");
  assert.equal(listed(a).frank.length, 1, "a lists frank once");
  assert.deepEqual(keys(b), ["erin", "frank"]);
  assert.equal(listed(b).frank.length, 1, "frank's old meta is gone after the rejoin");
});

test("a meta that is not an object, or too large, refuses the join with invalid_meta", { timeout: TEST_TIMEOUT }, async (t) => {
  const topic = room();
  for (const [payload, message] of [
    [{ meta: ["x"] }, "meta must be a JSON object"],
    [{ meta: "x" }, "meta must be a JSON object"],
    [{ meta: { big: "x".repeat(1024) } }, "meta is 1034 bytes, more than the limit of 1024"],
  ]) {
    const m = member(t, topic, { user_id: "gil" }, payload);
    m.socket.connect();
    const reply = await new Promise((resolve, reject) => {
      m.channel.join()
        .receive("ok", () => reject(new Error(`join with ${JSON.stringify(payload).slice(0, 40)} accepted`)))
        .receive("error", resolve)
        .receive("timeout", () => reject(new Error("join timed out")));
    });
    assert.deepEqual(reply, { reason: "invalid_meta", message });
    m.socket.disconnect();
  }
});

test("without user_id or auth, each member gets a random key", { timeout: TEST_TIMEOUT }, async (t) => {
  const topic = room();
  const a = member(t, topic, {});
  const b = member(t, topic, {});
  await connectAndJoin(a);
  await connectAndJoin(b);
  await waitFor(() => keys(a).length === 2, WAIT, "two anonymous members");
  for (const key of keys(a)) assert.match(key, /^[A-Z2-7]{26}$/);
});
