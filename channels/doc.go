// Package channels is the model users program against: a Channel handles
// one joined topic on one connection, a Router maps topic patterns to
// channel factories, and a Mux (one per connection) applies every dispatch
// rule of the Phoenix protocol: heartbeats, joins, duplicate joins, leaves,
// join_ref stamping and stale join_ref drops, unmatched topics, channel
// limits, and crash isolation.
//
// The package knows nothing of HTTP or WebSockets: a transport decodes
// frames with package protocol, hands messages to Mux.Dispatch, and writes
// the frames the Mux gives its Transport.
package channels
