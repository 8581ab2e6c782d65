// Package channels is the model users program against: a Channel handles
// one joined topic on one connection, a Router maps topic patterns to
// channel factories, and a Mux (one per connection) applies every dispatch
// rule of the Phoenix protocol: heartbeats, joins, duplicate joins, leaves,
// join_ref stamping and stale join_ref drops, unmatched topics, channel
// limits, and crash isolation.
//
// Writing a channel: implement Channel (Join, HandleIn, Terminate), and
// optionally AfterJoiner and Filter; reply with OK, OKJSON, ErrorReason;
// send with Socket.PushJSON and Socket.BroadcastJSON; mount it with
// Router.Handle, where Authorize and Intercept add Phoenix's join checks
// and intercept. examples/chat in the repository is a complete app, and
// docs/protocol.md the rules the Mux follows.
//
// Concurrency, in short (each interface says more): a channel's callbacks
// run one at a time, in its messages' order, on a goroutine of the channel
// while it has work, so a slow channel holds up no other; a Filter runs on
// the publisher's goroutine and must neither block nor publish.
//
// The package knows nothing of HTTP or WebSockets: a transport decodes
// frames with package protocol, hands messages to Mux.Dispatch, and writes
// the frames the Mux gives its Transport.
package channels
