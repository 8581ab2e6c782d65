// The events channel (docs/events-channel.md) with the real phoenix.js client
// over WebSocket against the real fawkes binary, used as an application would
// use it: join the lobby and rooms, send CloudEvents to the other members,
// subscribe to type patterns, ping, and get heartbeats. The flow itself is in
// helpers/events-flow.js; longpoll.test.js runs it again over LongPoll.
//
// Node 20 has no global WebSocket, so phoenix.js gets the `ws` package as its
// transport, as in websocket.test.js.
import { before, after } from "node:test";
import WebSocket from "ws";
import { buildFawkes, stopAll, cleanup } from "./helpers/server.js";
import { eventsFlow } from "./helpers/events-flow.js";

before(async () => {
  await buildFawkes();
}, { timeout: 300_000 });

after(async () => {
  await stopAll();
  await cleanup();
});

eventsFlow({ label: "websocket", transport: WebSocket });
