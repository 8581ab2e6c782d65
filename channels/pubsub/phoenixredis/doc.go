// Package phoenixredis lets Fawkes nodes and Elixir Phoenix nodes share one
// cluster through Redis, so that an app can move from Elixir to Fawkes a
// node at a time: every room spans both kinds of node.
//
// A PubSub is the Fawkes cluster adapter (package redis: per-topic
// channels, presence, LongPoll relay, leases, all among the Fawkes nodes)
// plus a bridge to the one Redis channel of the app's Phoenix.PubSub.Redis,
// "phx:Elixir.MyApp.PubSub.Adapter" (see Channel).
//
// # Fawkes to Elixir
//
// Every broadcast published on a Fawkes node (client pushes, broadcast_from,
// HTTP ingress, Go API, disconnect) also goes out on the Phoenix channel as
// MyApp.Endpoint.broadcast/3 would publish it from an Elixir node named
// Config.NodeName (AppendBroadcast), through a bounded queue of its own, in
// publish order. The JSON payload becomes the terms Jason would have decoded
// (etf.AppendFromJSON; no payload, as Endpoint.Disconnect sends, is %{}),
// and the only atoms written are the node name and the
// fixed ones of the format: nothing a client sends becomes an atom on an
// Elixir node, and every message is well-formed ETF an Elixir receiver
// accepts. Not sent: what Config.Skip keeps on this side (presence diffs by
// default), binary payloads, topics or events that are not UTF-8, and
// payloads with no Elixir term (a number beyond float64); they are counted.
//
// Delivery to Elixir nodes is at most once, as between Elixir nodes: a
// publish that fails before it reaches Redis (no connection) is retried
// while the queue has room; one that may have reached Redis is not sent
// again, since Elixir receivers have no duplicate filter. Give the bridge
// a client that does not retry commands itself (MaxRetries -1).
//
// # Elixir to Fawkes
//
// A %Phoenix.Socket.Broadcast{} on the Phoenix channel, from any Elixir
// node, for the Phoenix.Channel.Server or Phoenix.PubSub dispatcher, reaches
// this node's subscribers of its topic, and only them (it is never
// published again), with the frame a Phoenix node would send: the payload
// becomes the JSON Jason would encode (Reader.AppendJSON), and {:binary,
// data} a binary broadcast. :only messages are taken only by the node they
// name. Both atom encodings and the compressed form are read, the inflated
// size bounded by Config.MaxInflated. Everything else is skipped cheaply,
// before its message is decoded where possible, and counted by SkipReason:
// Phoenix.Tracker traffic, topics without a subscriber here, plain PubSub
// messages for Elixir processes, payloads that are not maps or that JSON
// cannot carry (tuples, pids, structs), malformed bytes. Nothing on the
// channel can crash the node.
//
// # Telling Fawkes nodes apart
//
// Redis echoes every publish to every subscriber, so a Fawkes node sees on
// the Phoenix channel what the other Fawkes nodes of its cluster sent there,
// which already reached it through the cluster's topic channels; taking it
// again would deliver it twice. The nodes of a cluster therefore register
// their Phoenix node names in a Redis hash ("<prefix>:phoenix:nodes"), each
// in the same pipeline as, and before, every batch it publishes on the
// Phoenix channel: when a message under a name arrives, the name is
// registered, even after Redis lost its data. A receiver skips messages
// from registered names (and from its own name without asking), asks Redis
// once per unknown name and remembers the answer for 30 s. A node removes
// its name when it closes; the node that declares a dead node down removes
// the dead node's. The alternative of recognising copies by their content
// was rejected: two equal broadcasts are legitimate, and the two routes
// give no order to match them by.
//
// # Not carried
//
// Presence does not cross: Elixir-side Presence members do not appear in
// Fawkes presence lists, and Fawkes members do not appear in Elixir ones
// (Phoenix.Tracker's CRDT replication is skipped, and Fawkes presence
// diffs are not sent). LongPoll sessions, heartbeat leases and history stay
// among the Fawkes nodes. A broadcast's Header (pubsub.Header) crosses
// between Fawkes nodes only: Phoenix.Socket.Broadcast has no field for it,
// so Elixir nodes get the broadcast without it, and a filter there must
// decide from the payload.
package phoenixredis
