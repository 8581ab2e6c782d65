// Several fawkes nodes on one real redis-server, and a round-robin balancer
// in front of them, for the cluster tests (cluster*.test.js).
//
//   const redis = await startRedis(t);          // null (and t skipped) without redis-server, off CI
//   if (!redis) return;
//   const cluster = await startCluster(redis, 3, ["--presence"]);
//   const proxy = await startRoundRobinProxy(cluster.nodes);
//   proxy.url                                    // "ws://127.0.0.1:P/socket" for phoenix.js
//   await proxy.stop(); await cluster.stop(); await redis.stop();
//
// redis: {url, port, pid, stop(), kill9(), freeze() (SIGSTOP), thaw() (SIGCONT),
// restart() (a fresh redis-server on the same port), tail()}.
//
// REDIS_SERVER=/path/to/redis-server overrides the binary. Without it
// installed, startRedis skips the test loudly, except on CI (CI=true), where
// it throws: CI must install Debian's redis-server.
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { startServer } from "./server.js";

const REDIS_BIN = process.env.REDIS_SERVER || "redis-server";
const REDIS_START_TIMEOUT_MS = 5_000;
const REDIS_STOP_TIMEOUT_MS = 3_000;

/** A fixed 64-character secret_key_base shared by every node (LongPoll tokens verify anywhere). */
export const TEST_SECRET_KEY_BASE = "fawkes-cluster-tests-secret-key-base-".padEnd(64, "0123456789");
if (TEST_SECRET_KEY_BASE.length !== 64) throw new Error("TEST_SECRET_KEY_BASE must be 64 characters");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every redis-server process this test process started and that still runs.
const redisProcs = new Set();
process.on("exit", () => {
  for (const p of redisProcs) {
    try { p.kill("SIGKILL"); } catch { /* already gone */ }
  }
});

let installed = null;
function redisInstalled() {
  if (installed === null) {
    const r = spawnSync(REDIS_BIN, ["--version"], { stdio: "ignore", timeout: 10_000 });
    installed = !(r.error && r.error.code === "ENOENT");
  }
  return installed;
}

/** A port nothing listens on right now (bind :0, read, close). */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", resolve);
  });
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** One RESP PING on a fresh TCP connection: true on +PONG within ms. */
export function redisPing(port, ms = 300) {
  return new Promise((resolve) => {
    let buf = "";
    let done = false;
    const sock = net.connect(port, "127.0.0.1");
    const finish = (ok) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), ms);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (d) => {
      buf += d;
      if (buf.includes("\r\n")) finish(buf.startsWith("+PONG"));
    });
    sock.on("error", () => finish(false));
    sock.on("close", () => finish(false));
  });
}

/**
 * True if redis-server is installed. Otherwise: throws on CI (CI=true), else
 * marks the test t skipped, says so on stderr, and returns false (the test
 * must then return).
 */
export function requireRedis(t) {
  if (redisInstalled()) return true;
  const why = `redis-server not installed (${JSON.stringify(REDIS_BIN)} not found; Debian package redis-server, or REDIS_SERVER=path)`;
  if (process.env.CI === "true") throw new Error(`${why}: CI must install it`);
  console.error(`SKIPPED: redis-server not installed: ${t?.name ?? "cluster test"}`);
  t?.skip(why);
  return false;
}

/**
 * Starts redis-server on 127.0.0.1 (opts.port, else a free port), without
 * persistence, and resolves once it answers PING. t is the node:test context:
 * without redis-server it is skipped (null is returned) unless CI=true.
 * The caller stops it (t.after / after()); the process exit kills it anyway.
 */
export async function startRedis(t, opts = {}) {
  if (!requireRedis(t)) return null;
  const dir = await mkdtemp(path.join(tmpdir(), "fawkes-redis-"));
  const fixedPort = opts.port != null;
  let port = opts.port ?? (await freePort());
  const logs = [];
  let proc = null;
  let exited = null;
  let frozen = false;

  const spawnOnce = async () => {
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"];
    const p = spawn(REDIS_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
    proc = p;
    frozen = false;
    redisProcs.add(p);
    exited = new Promise((resolve) => p.once("exit", (code, signal) => { redisProcs.delete(p); resolve({ code, signal }); }));
    for (const s of [p.stdout, p.stderr]) {
      s.setEncoding("utf8");
      s.on("data", (d) => { logs.push(...d.split("\n").filter(Boolean)); if (logs.length > 200) logs.splice(0, logs.length - 200); });
    }
    const deadline = Date.now() + REDIS_START_TIMEOUT_MS;
    for (;;) {
      if (p.exitCode !== null || p.signalCode !== null) {
        throw new Error(`redis-server exited (code ${p.exitCode}, signal ${p.signalCode}) before answering PING on ${port}\n${logs.slice(-10).join("\n")}`);
      }
      if (await redisPing(port)) return;
      if (Date.now() >= deadline) {
        p.kill("SIGKILL");
        throw new Error(`redis-server did not answer PING on ${port} within ${REDIS_START_TIMEOUT_MS} ms\n${logs.slice(-10).join("\n")}`);
      }
      await sleep(20);
    }
  };

  const alive = () => proc && proc.exitCode === null && proc.signalCode === null;

  const terminate = async () => {
    if (!alive()) return;
    if (frozen) { proc.kill("SIGCONT"); frozen = false; }
    proc.kill("SIGTERM");
    let timer;
    await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => { proc.kill("SIGKILL"); r(); }, REDIS_STOP_TIMEOUT_MS); })]);
    clearTimeout(timer);
    await exited;
  };

  // A random port can be taken between freePort() and redis binding it: try another.
  for (let attempt = 0; ; attempt++) {
    try {
      await spawnOnce();
      break;
    } catch (err) {
      if (fixedPort || attempt >= 2) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      port = await freePort();
    }
  }

  const redis = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get pid() { return proc.pid; },
    get running() { return alive(); },
    /** SIGTERM (SIGKILL after 3 s), and removes its directory. */
    async stop() {
      await terminate();
      await rm(dir, { recursive: true, force: true });
    },
    /** kill -9; resolves once it is gone. */
    async kill9() {
      if (!alive()) return;
      proc.kill("SIGKILL");
      await exited;
    },
    /** SIGSTOP: the port still accepts connections, nothing answers. */
    freeze() {
      if (!alive()) throw new Error("redis-server is not running");
      proc.kill("SIGSTOP");
      frozen = true;
    },
    /** SIGCONT. */
    thaw() {
      if (!alive()) throw new Error("redis-server is not running");
      proc.kill("SIGCONT");
      frozen = false;
    },
    /** A fresh, empty redis-server on the same port (stops the running one first). */
    async restart() {
      await terminate();
      await spawnOnce();
    },
    tail: (n = 10) => logs.slice(-n).join("\n"),
  };
  return redis;
}

/**
 * n fawkes nodes sharing redis (the startRedis result, or a redis:// URL):
 * every node gets `--pubsub redis --redis-url <url>` plus flags, and env
 * (with FAWKES_SECRET_KEY_BASE = TEST_SECRET_KEY_BASE unless env sets it).
 * Resolves {nodes, stop()} once every node listens; if one fails to start,
 * the others are stopped and the error is thrown.
 */
export async function startCluster(redis, n, flags = [], env = {}) {
  const url = typeof redis === "string" ? redis : redis.url;
  const nodeFlags = ["--pubsub", "redis", "--redis-url", url, ...flags];
  const nodeEnv = { FAWKES_SECRET_KEY_BASE: TEST_SECRET_KEY_BASE, ...env };
  const settled = await Promise.allSettled(Array.from({ length: n }, () => startServer(nodeFlags, { env: nodeEnv })));
  const nodes = settled.filter((s) => s.status === "fulfilled").map((s) => s.value);
  const failed = settled.find((s) => s.status === "rejected");
  const stop = ({ timeoutMs = 2_000 } = {}) => Promise.all(nodes.map((s) => s.stop({ timeoutMs })));
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { nodes, stop, flags: nodeFlags, env: nodeEnv };
}

// Hop-by-hop headers a proxy does not forward (RFC 9110 7.6.1).
const HOP_BY_HOP = new Set([
  "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
  "te", "trailer", "transfer-encoding", "upgrade",
]);

function endToEnd(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

/**
 * A balancer on 127.0.0.1:0 in front of backends (fawkes servers, or ports)
 * that picks the next backend in turn for EVERY HTTP request (even on one
 * kept-alive client connection: each forwarded request gets its own backend
 * connection, `Connection: close`) and for every WebSocket upgrade (the
 * request head is replayed on a TCP connection, then bytes are piped both
 * ways). A backend that refuses the connection is skipped, as a balancer's
 * health check would. Records the backend index of each answered HTTP
 * request (`requests`) and of each upgrade (`upgrades`).
 */
export async function startRoundRobinProxy(backends) {
  const ports = backends.map((b) => (typeof b === "number" ? b : b.port));
  if (ports.length === 0) throw new Error("startRoundRobinProxy: no backends");
  let turn = 0;
  const pick = () => {
    const i = turn;
    turn = (turn + 1) % ports.length;
    return i;
  };
  const requests = []; // backend index of each forwarded HTTP request that got an answer
  const upgrades = []; // backend index of each WebSocket upgrade that reached a backend
  const live = new Set(); // sockets and requests to destroy on stop

  const track = (x) => {
    live.add(x);
    x.once("close", () => live.delete(x));
    return x;
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("error", () => res.destroy());
    req.on("end", () => forward(req, res, Buffer.concat(chunks), 0));
  });
  server.keepAliveTimeout = 60_000;

  function forward(req, res, body, attempt) {
    const i = pick();
    const headers = endToEnd(req.headers);
    delete headers["content-length"];
    if (body.length > 0 || req.headers["content-length"] !== undefined) headers["content-length"] = String(body.length);
    headers.connection = "close";
    const upstream = track(http.request({
      host: "127.0.0.1",
      port: ports[i],
      method: req.method,
      path: req.url,
      headers,
      agent: false,
    }));
    let answered = false;
    upstream.on("response", (up) => {
      answered = true;
      requests.push(i);
      res.writeHead(up.statusCode, up.statusMessage, endToEnd(up.headers));
      up.pipe(res);
      up.on("error", () => res.destroy());
    });
    upstream.on("error", (err) => {
      if (answered || res.headersSent) return res.destroy();
      if (err.code === "ECONNREFUSED" && attempt + 1 < ports.length && !res.destroyed) return forward(req, res, body, attempt + 1);
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy: ${err.code || err.message}\n`);
    });
    // The client went away (phoenix.js aborts a long poll on disconnect): drop the backend request.
    res.on("close", () => { if (!res.writableFinished) upstream.destroy(); });
    upstream.end(body);
  }

  server.on("upgrade", (req, client, head) => {
    track(client);
    client.on("error", () => {});
    let head0 = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
    for (let k = 0; k < req.rawHeaders.length; k += 2) head0 += `${req.rawHeaders[k]}: ${req.rawHeaders[k + 1]}\r\n`;
    head0 += "\r\n";
    const attemptConnect = (attempt) => {
      if (client.destroyed) return;
      const i = pick();
      const upstream = track(net.connect(ports[i], "127.0.0.1"));
      let connected = false;
      upstream.once("connect", () => {
        connected = true;
        upgrades.push(i);
        upstream.write(head0);
        if (head && head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
      });
      upstream.on("error", (err) => {
        if (!connected && err.code === "ECONNREFUSED" && attempt + 1 < ports.length) return attemptConnect(attempt + 1);
        if (!connected) client.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        client.destroy();
      });
    };
    attemptConnect(0);
  });
  server.on("connection", (s) => track(s));
  server.on("clientError", (_err, s) => s.destroy());

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: `ws://127.0.0.1:${port}/socket`,
    httpURL: `http://127.0.0.1:${port}`,
    requests,
    upgrades,
    async stop() {
      const closed = new Promise((r) => server.close(() => r()));
      server.closeAllConnections?.();
      for (const x of live) x.destroy();
      await closed;
    },
  };
}
