// Package presence is Phoenix-compatible presence: who is on a topic, as
// phoenix.js's Presence (onSync, onJoin, onLeave, list) expects it (spec
// section 7).
//
// A Presence is shared by every connection of a node. A channel tracks its
// socket under a key with a JSON object of metadata, and pushes the topic's
// state to its client after every join:
//
//	func (c *Room) Join(s *channels.Socket, payload []byte) channels.Reply {
//		if err := c.presence.Track(s, userID, meta); err != nil { ... }
//		_ = c.presence.PushState(s) // ["<join_ref>", null, topic, "presence_state", {...}]
//		return channels.OK(nil)
//	}
//
// Every change (Track, Untrack, Update, and the end of a channel) is
// broadcast on the topic through the PubSub as
// [null, null, topic, "presence_diff", {"joins":{...},"leaves":{...}}],
// encoded once for all subscribers.
//
// # Ending a channel
//
// A socket's presences must be removed when its channel ends (leave,
// duplicate join, crash, connection drop). Mount the channel through
// Presence.Wrap and this happens by itself; otherwise the channel's
// Terminate must call Presence.UntrackAll, and a Join that tracks and then
// refuses must call it too.
//
// Wrap also closes a window the plain calls leave open: the Mux subscribes
// a socket to its topic only after Join returns, so a change made by
// another connection between PushState (inside Join) and that subscription
// would reach neither the state nor the client. A wrapped channel reports
// its subscription to the Presence, which hands such diffs to the joining
// socket itself, exactly once.
//
// # Cluster
//
// The state is local to the node: List and PushState show the presences
// tracked through this Presence. Diffs go through the PubSub, so a
// cluster-wide PubSub carries every node's diffs to every node's clients,
// but a client joining on one node does not see, in its presence_state,
// the members tracked on other nodes. Replicating the state (Phoenix's
// CRDT tracker) is not implemented.
package presence
