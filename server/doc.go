// Package server is the HTTP endpoint of Fawkes: an http.Handler that
// upgrades {mount}/websocket requests to Phoenix WebSocket connections (with
// github.com/gobwas/ws) and runs a channels.Mux on each.
//
// It checks the origin, negotiates the serializer from vsn, runs the app's
// connect hook, keeps one writer per connection behind a byte-bounded
// outbox, enforces the idle timeout and message size limit, and drains
// connections with close code 1012 on Shutdown. It knows nothing of
// CloudEvents: channels are wired in through a channels.Router.
package server
