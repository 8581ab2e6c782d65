// Runs the real fawkes binary for the Node tests.
//
//   const bin = await buildFawkes();            // go build, once per process
//   const srv = await startServer(["--conformance-channels"]);
//   srv.url   // "ws://127.0.0.1:PORT/socket" (what phoenix.js Socket wants)
//   await srv.stop();                           // SIGTERM, await exit
//   await srv.stop({ timeoutMs: 3000 });        // SIGKILL after 3 s instead of 10 s
//   const again = await startServer(flags, { port: srv.port });
//   const env = await startServer(flags, { env: { FAWKES_SECRET_KEY_BASE: "..." } });
//   await stopAll(); await cleanup();           // in after()
//
// FAWKES_BIN=/path/to/fawkes skips the build (e.g. in CI that built it already).
//
// The binary logs JSON lines to stderr when stderr is not a terminal; the
// "fawkes listening" line carries the bound address, so "--addr 127.0.0.1:0"
// gives a free port without races.
import { spawn, execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

const BUILD_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

let buildPromise = null;
let tmpDir = null;
const running = new Set();

// Last resort: never leave a server behind if the test process dies.
process.on("exit", () => {
  for (const s of running) {
    try { s.proc.kill("SIGKILL"); } catch { /* already gone */ }
  }
});

/** Builds ./cmd/fawkes into a temp dir once per process; resolves to the binary path. */
export function buildFawkes() {
  if (process.env.FAWKES_BIN) return Promise.resolve(process.env.FAWKES_BIN);
  if (!buildPromise) {
    buildPromise = (async () => {
      tmpDir = await mkdtemp(path.join(tmpdir(), "fawkes-js-"));
      const bin = path.join(tmpDir, "fawkes");
      await new Promise((resolve, reject) => {
        execFile(
          "go",
          ["build", "-o", bin, "./cmd/fawkes"],
          { cwd: repoRoot, timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 << 20 },
          (err, stdout, stderr) => {
            if (err) reject(new Error(`go build ./cmd/fawkes failed in ${repoRoot}: ${err.message}\n${stderr}`));
            else resolve();
          },
        );
      });
      return bin;
    })();
  }
  return buildPromise;
}

/**
 * Starts fawkes with the given extra flags on 127.0.0.1 (a random port unless
 * opts.port is given) and resolves once it logged "fawkes listening".
 * opts.env adds environment variables to the inherited environment.
 */
export async function startServer(flags = [], opts = {}) {
  const bin = await buildFawkes();
  const port = opts.port ?? 0;
  const args = ["--addr", `127.0.0.1:${port}`, "--log-format", "json", ...flags];
  const env = opts.env ? { ...process.env, ...opts.env } : process.env;
  const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], env });

  const logs = []; // parsed JSON lines (or {raw} for anything else)
  const server = {
    proc,
    logs,
    port: null,
    url: null,
    exited: null, // Promise<{code, signal}>
    stop: (opts) => stopServer(server, opts),
    /** The last log lines, for assertion messages. */
    tail: (n = 20) => logs.slice(-n).map((l) => l.raw ?? JSON.stringify(l)).join("\n"),
  };
  server.exited = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      running.delete(server);
      resolve({ code, signal });
    });
  });
  running.add(server);

  let listening;
  const ready = new Promise((resolve) => { listening = resolve; });
  let buf = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      let entry;
      try { entry = JSON.parse(line); } catch { entry = { raw: line }; }
      logs.push(entry);
      if (entry.message === "fawkes listening" && typeof entry.addr === "string") listening(entry.addr);
    }
  });

  let timer;
  const addr = await Promise.race([
    ready,
    server.exited.then(({ code, signal }) => {
      throw new Error(`fawkes exited (code ${code}, signal ${signal}) before listening; args ${args.join(" ")}\n${server.tail()}`);
    }),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`fawkes did not log "fawkes listening" within ${START_TIMEOUT_MS} ms\n${server.tail()}`)),
        START_TIMEOUT_MS,
      );
    }),
  ]).catch(async (err) => {
    await stopServer(server);
    throw err;
  }).finally(() => clearTimeout(timer));

  server.port = Number(addr.slice(addr.lastIndexOf(":") + 1));
  server.url = `ws://127.0.0.1:${server.port}/socket`;
  server.httpURL = `http://127.0.0.1:${server.port}`;
  return server;
}

/**
 * SIGTERM (fawkes drains: close 1012), then waits for exit; SIGKILL if it
 * hangs for opts.timeoutMs (default STOP_TIMEOUT_MS).
 */
async function stopServer(server, { timeoutMs = STOP_TIMEOUT_MS } = {}) {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) return server.exited;
  server.proc.kill("SIGTERM");
  let timer;
  const killed = new Promise((resolve) => {
    timer = setTimeout(() => {
      server.proc.kill("SIGKILL");
      resolve();
    }, timeoutMs);
  });
  await Promise.race([server.exited, killed]);
  clearTimeout(timer);
  return server.exited;
}

/** Stops every server this process started and still runs. */
export async function stopAll() {
  await Promise.all([...running].map((s) => stopServer(s)));
}

/** Removes the build directory. */
export async function cleanup() {
  if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  tmpDir = null;
  buildPromise = null;
}
