// The Node snippet of README.md ("The events channel"), run as a reader
// would: saved as demo.mjs next to node_modules holding phoenix and ws, run
// with `node demo.mjs` against a server on localhost, port changed only.
// It must print both lines, exit 0 by itself, and use WebSockets (not fall
// back to LongPoll).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, stopAll, cleanup } from "./helpers/server.js";
import { waitFor } from "./helpers/phoenix.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERE = fileURLToPath(new URL("../", import.meta.url)); // js-client-tests: its node_modules resolve the imports

after(async () => {
  await stopAll();
  await cleanup();
});

/** The README's js code block that imports phoenix. */
async function snippet() {
  const readme = await readFile(path.join(ROOT, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  const found = blocks.filter((b) => b.includes('from "phoenix"') && b.includes('from "ws"'));
  assert.equal(found.length, 1, "README.md has one Node snippet importing phoenix and ws");
  return found[0];
}

test("README: the Node snippet works as written: two clients, WebSocket, both lines printed, exit 0", { timeout: 60_000 }, async () => {
  const server = await startServer(["--log-level", "debug", "--heartbeat-interval", "0"]);
  const code = await snippet();
  assert.match(code, /ws:\/\/localhost:4000\/socket/);
  const dir = await mkdtemp(path.join(HERE, ".readme-"));
  try {
    const file = path.join(dir, "demo.mjs");
    await writeFile(file, code.replace("localhost:4000", `localhost:${server.port}`));
    const { stdout, exitCode } = await new Promise((resolve) => {
      execFile(process.execPath, [file], { cwd: dir, timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ stdout, stderr, exitCode: err ? (err.code ?? err.signal) : 0 });
      });
    });
    assert.equal(exitCode, 0, `node demo.mjs exited ${exitCode}:\n${stdout}`);
    assert.deepEqual(stdout.trim().split("\n").sort(), ["received com.example.order { total: 12 }", "sent 1"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Both clients came over WebSocket: the server logged their close lines (debug), no LongPoll.
  await waitFor(() => server.logs.filter((l) => l.message === "connection closed").length >= 2, 3_000, "two connection closed lines");
  const closes = server.logs.filter((l) => l.message === "connection closed");
  assert.deepEqual(closes.map((l) => l.transport), ["websocket", "websocket"], JSON.stringify(closes));
});
