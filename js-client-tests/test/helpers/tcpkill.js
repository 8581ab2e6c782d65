// A plain TCP relay in front of one port, whose connections a test can cut
// at once (both ways, no close handshake), as a dead Wi-Fi or a NAT that
// forgot the flow would: WebSocket and LongPoll requests alike go through it.
//
//   const relay = await startTcpRelay(server.port);
//   relay.url       // "ws://127.0.0.1:P/socket" for phoenix.js
//   relay.killAll() // destroys every live connection; new ones are accepted
//   relay.hold()    // ...unless held: then they are cut at once, until relay.release()
//   await relay.stop();
import net from "node:net";

export async function startTcpRelay(targetPort) {
  const live = new Set();
  let cut = 0;
  let holding = false;
  const server = net.createServer((client) => {
    if (holding) {
      client.resetAndDestroy?.() ?? client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, "127.0.0.1");
    const pair = [client, upstream];
    for (const s of pair) {
      live.add(s);
      s.on("error", () => {});
      s.on("close", () => { live.delete(s); for (const o of pair) o.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: `ws://127.0.0.1:${port}/socket`,
    httpURL: `http://127.0.0.1:${port}`,
    /** Cuts every new connection at once, until release(): the server looks unreachable. */
    hold() { holding = true; },
    release() { holding = false; },
    /** How many sockets (client and server sides) killAll destroyed so far. */
    get cut() { return cut; },
    /** Destroys every connection relayed now (client and server side). */
    killAll() {
      for (const s of live) { s.resetAndDestroy?.() ?? s.destroy(); cut++; }
    },
    async stop() {
      for (const s of live) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };
}
