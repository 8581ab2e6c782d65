// Package clusterwire is what the nodes of a Fawkes cluster say to each
// other, whatever carries it: the envelope of a broadcast, a relay request
// and its reply, and the rule by which a node takes broadcasts from the
// others (Dedup). The Redis adapter (package redis) uses it; an adapter for
// another broker (NATS, say, written outside this module) uses it too, and
// its nodes then share the format, the ordering and the at-most-once
// delivery of the Redis ones. Package sendq has the bounded, ordered queue
// such an adapter keeps between Publish and its sending goroutine.
//
// # Envelope
//
// Every message is one envelope:
//
//	version(1) kind(1) node(16) uvarint(seq) body
//
// node is the sender's NodeID: a node skips its own broadcasts, which a
// broker such as Redis echoes back, and replies go to the sender's node.
// seq numbers the sender's broadcasts from 1 in the order it publishes
// them; a receiver drops a broadcast whose seq is not above the last one it
// took from that node (see Dedup), so a publish that the broker executed
// twice (sent again after a timeout) or late is never delivered twice or
// out of order. Requests and replies carry seq 0 and are not checked.
//
// The body of each kind:
//
//	broadcast: flags(1) field(topic) field(event) [header] payload
//	request:   uvarint(id) uvarint(ms left) field(handler) payload
//	reply:     uvarint(id) status(1) payload
//
//	field:     uvarint(len) bytes
//	header:    uvarint(n) n × (field(key) field(value))
//
// flags bit 0 marks a binary payload, bit 1 a header (the broadcast's
// pubsub.Header); other bits are malformed. A request's "ms left" is how
// long the caller still waits for the answer, 0 for no deadline. A reply's
// status is ReplyOK, or ReplyNoHandler when the node has no handler for the
// request.
//
// # Versions
//
// A writer puts in the version byte the lowest version that can read the
// message: 2 for everything but a broadcast with a header, which is 3.
// Version 3 is version 2 plus the header flag. A reader takes 2 and 3 and
// takes any other version for malformed. A broadcast without a header is
// thus the same bytes as before version 3 existed, and during a rolling
// upgrade a node that knows only version 2 reads it; it drops (and counts
// as malformed) a broadcast with a header, rather than deliver it with its
// header bytes taken for the payload.
//
// # Ordering, for an adapter's author
//
// The seq rule needs a sender to number its broadcasts in the order they
// reach the broker, and to send a failed batch again with the same numbers
// before anything newer: one goroutine draining a sendq.Queue does exactly
// that. Numbers start at 1 with each NodeID, and a node takes a new NodeID
// (NewNodeID) every time it starts.
package clusterwire
