// Package presence is Phoenix-compatible presence: who is on a topic, as
// phoenix.js's Presence (onSync, onJoin, onLeave, list) expects it
// (docs/protocol.md §7).
//
// A Presence is shared by every connection of a node: make one with
// New(nil), which broadcasts on the PubSub of the sockets it tracks (the
// endpoint's), and mount the channels that use it through Wrap. A channel
// tracks its socket under a key with a JSON object of metadata, and pushes
// the topic's state to its client after every join. Both belong in AfterJoin
// (channels.AfterJoiner, Phoenix's :after_join), which the Mux runs once
// the join reply is out and the socket is subscribed to its topic:
//
//	func (c *Room) AfterJoin(s *channels.Socket) {
//		if err := c.presence.Track(s, userID, meta); err != nil { ... }
//		_ = c.presence.PushState(s) // ["<join_ref>", null, topic, "presence_state", {...}]
//	}
//
// Every change (Track, Untrack, Update, and the end of a channel) is
// broadcast on the topic through the PubSub as
// [null, null, topic, "presence_diff", {"joins":{...},"leaves":{...}}],
// encoded once for all subscribers. A socket subscribed before PushState
// cannot miss a change: each is in the state or reaches it as a diff, or
// both. phoenix.js holds back the diffs that arrive before the state (its
// own join's among them, as from Phoenix) and applies them after it;
// applying a join already in the state is harmless, as metas are matched
// by phx_ref.
//
// # Ending a channel
//
// A socket's presences must be removed when its channel ends (leave,
// duplicate join, crash, connection drop). Mount the channel through
// Presence.Wrap and this happens by itself; otherwise the channel's
// Terminate must call Presence.UntrackAll (the Mux runs Terminate after a
// panic in AfterJoin too), and a Join that tracks and then refuses must
// call it as well.
//
// # Cluster
//
// Alone, a Presence knows the presences tracked through it: List and
// PushState show this node's. With a Cluster (SetCluster; the Redis one is
// package presenceredis), they show every node's, as Phoenix.Presence does:
// a topic with members on this node keeps the other nodes' presences next
// to its own, loaded once and then kept up to date by their presence_diff
// broadcasts, and each node stores its own presences where the others can
// read them. The diffs themselves go through the PubSub as on one node,
// once to every subscriber of every node.
package presence
