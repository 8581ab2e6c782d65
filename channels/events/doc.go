// Package events is the CloudEvents channel of docs/events-channel.md:
// clients join "events:lobby" or "events:<room>", publish CloudEvents 1.0
// (JSON format) to the other members of the room, filter what they receive
// by event type patterns, ping, and receive a periodic heartbeat.
//
// A Service holds the configuration and the state shared by every channel
// (member counts for the heartbeat, interned pattern sets). Mount it with
//
//	svc := events.New(events.Config{PubSub: ps})
//	router.Handle("events:*", svc.Factory())
//	go svc.Run(ctx) // the periodic heartbeat
//
// and give every Mux the same PubSub. Events are validated without being
// decoded into generic values, and reach receivers as the exact bytes the
// sender sent.
//
// # Presence
//
// With Config.Presence set (the binary's --presence), phoenix.js's Presence
// works on events topics. Each member is tracked under a key:
//
//   - the socket id, when the connection has one (with --auth
//     phoenix-token, the verified token's data);
//   - else the connect param "user_id";
//   - else a random key, new for every join.
//
// Its meta is {"online_at": <unix seconds of the join>} plus the members
// of the join payload's "meta", which must be a JSON object of at most
// Config.MaxMetaBytes (1 KiB) once compacted. "online_at" is always the
// server's, and "phx_ref"/"phx_ref_prev" are presence's own: a client's
// members of those names are dropped. A "meta" that is not an object (null
// or absent means none), or is too large, refuses the join:
//
//	{"reason":"invalid_meta","message":"meta must be a JSON object"}
//	{"reason":"invalid_meta","message":"meta is 1500 bytes, more than the limit of 1024"}
//
// The member is tracked and presence_state pushed in AfterJoin, once the
// join reply is out and the socket subscribed; it is untracked when the
// channel ends (leave, close, crash), and every change reaches the topic
// as a presence_diff. Without Config.Presence, "meta" is ignored.
//
// # Resume after reconnect
//
// With Config.History set, each room keeps its recent events (bounded by
// count and age: HistoryConfig), and a join whose payload carries
// "last_event_id" gets, after its ok reply, every event of the room
// broadcast after that one, as ordinary "cloudevent" pushes with the bytes
// first broadcast and filtered by the join's event_types, then the live
// events, with no gap and no duplicate while events keep coming (resume.go
// says how). The reply says what happened:
//
//	{"recovered":true,"replayed":3}
//	{"recovered":false}      (the id is not, or no longer, in the history: reload)
//
// A join without "last_event_id" replies as above. One that is not a
// string, is empty or is longer than Config.MaxLastEventIDBytes refuses
// the join (invalid_last_event_id). When a room saw an id twice, a resume
// continues after the newer one. phoenix.js evaluates channel params again
// at every rejoin, so an unmodified client resumes with
//
//	let last = null
//	const room = socket.channel("events:orders", () => (last ? { last_event_id: last } : {}))
//	room.on("cloudevent", (ev) => { last = ev.id })
//
// NewMemoryHistory keeps the history in the process; package eventsredis
// keeps it in Redis, so that a member resumes on any node of a cluster.
// Service.ReadHistory reads it (the binary's GET /events/{room}).
package events
