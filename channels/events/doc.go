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
package events
