// Package server is the HTTP endpoint of Fawkes: an http.Handler that
// upgrades {mount}/websocket requests to Phoenix WebSocket connections (with
// github.com/gobwas/ws), serves {mount}/longpoll sessions, and runs a
// channels.Mux on each connection.
//
//	endpoint := server.New(server.Config{Router: router, Connect: connect})
//	mux.Handle("/socket/", endpoint)
//
// For the most connections per second, serve it through the endpoint's
// UpgradeListener, which answers the WebSocket upgrades without net/http's
// request parsing and hijack and passes every other connection on:
//
//	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
//	srv.Serve(endpoint.UpgradeListener(ln, "/socket/websocket", 10*time.Second))
//
// Next to it: package tokenauth is the connect hook for Phoenix.Token,
// phxtoken verifies the tokens themselves, and servertest is a Phoenix
// client for testing an endpoint. The wire rules are in the repository's
// docs/protocol.md.
//
// It checks the origin, negotiates the serializer from vsn, runs the app's
// connect hook, keeps one writer per connection behind a byte-bounded
// outbox, enforces the idle timeout and message size limit, and drains
// connections with close code 1012 on Shutdown. On a WebSocket and a
// LongPoll session alike, each channel's messages run on a goroutine of the
// channel while it has work (channels.MuxConfig.Concurrent), so a slow
// channel stalls neither the connection's other channels nor its
// heartbeats; a LongPoll POST is answered once its messages are queued. It
// knows nothing of
// CloudEvents: channels are wired in through a channels.Router.
package server
