package server_test

// One test per dispatch rule of the protocol, docs/protocol.md §4, each run for
// V2 (arrays), V1 (objects, vsn=1.0.0) and V1 without vsn.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

func TestHeartbeatReply(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.send(nil, "5", "phoenix", "heartbeat", "{}")
		c.expectReply(nil, "5", "phoenix", "ok", "{}")
		// The reply's join_ref is null even when the client sends one.
		c.send("9", "6", "phoenix", "heartbeat", "{}")
		c.expectReply(nil, "6", "phoenix", "ok", "{}")
		// Other events on "phoenix" are routed like any topic.
		c.send(nil, "7", "phoenix", "other", "{}")
		c.expectReply(nil, "7", "phoenix", "error", `{"reason":"unmatched topic"}`)
	})
}

func TestJoinOK(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.send("3", "3", "conformance:a", "phx_join", `{"reply":{"hello":"world"},"push":{"n":1}}`)
		// The reply goes out before anything the channel pushed while joining.
		c.expectReply("3", "3", "conformance:a", "ok", `{"hello":"world"}`)
		c.expect("3", nil, "conformance:a", "after_join", `{"n":1}`)
		// The join hook counts after the reply went out.
		checkFor(t, frameTimeout, time.Millisecond, func() error {
			if attempts, ok := srv.Stats().Joins(); attempts != 1 || ok != 1 {
				return fmt.Errorf("Stats().Joins() = %d, %d; want 1, 1", attempts, ok)
			}
			return nil
		})
	})
}

func TestJoinRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.send("1", "1", "conformance:a", "phx_join", `{"refuse":{"reason":"unauthorized"},"push":{"n":1}}`)
		c.expectReply("1", "1", "conformance:a", "error", `{"reason":"unauthorized"}`)
		// No channel was created.
		c.send("1", "2", "conformance:a", "echo", "{}")
		c.expectReply(nil, "2", "conformance:a", "error", `{"reason":"unmatched topic"}`)
	})
}

func TestJoinUnmatchedTopic(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		// join_ref is null in the reply although the client sent one.
		c.send("1", "1", "nowhere:1", "phx_join", "{}")
		c.expectReply(nil, "1", "nowhere:1", "error", `{"reason":"unmatched topic"}`)
		c.send(nil, "2", "nowhere:1", "phx_join", "{}")
		c.expectReply(nil, "2", "nowhere:1", "error", `{"reason":"unmatched topic"}`)
		// Any other event on a topic not joined is unmatched too.
		c.send("4", "3", "conformance:x", "echo", "{}")
		c.expectReply(nil, "3", "conformance:x", "error", `{"reason":"unmatched topic"}`)
	})
}

func TestJoinTooManyChannels(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{MaxChannels: 2})
		c := dial(t, srv, d)
		c.join("1", "conformance:a", "{}")
		c.join("2", "conformance:b", "{}")
		c.send("3", "3", "conformance:c", "phx_join", "{}")
		c.expectReply("3", "3", "conformance:c", "error", `{"reason":"too many channels joined"}`)
		// A duplicate join at the limit replaces the old channel.
		c.send("4", "4", "conformance:b", "phx_join", "{}")
		c.expectReply("4", "4", "conformance:b", "ok", "{}")
		c.expect("2", "2", "conformance:b", "phx_close", "{}")
		// Leaving frees a slot.
		c.send("1", "5", "conformance:a", "phx_leave", "{}")
		c.expectReply("1", "5", "conformance:a", "ok", "{}")
		c.expect("1", "1", "conformance:a", "phx_close", "{}")
		c.join("6", "conformance:c", "{}")
	})
}

func TestJoinCrash(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.send("1", "1", "conformance:a", "phx_join", `{"crash":true}`)
		c.expectReply("1", "1", "conformance:a", "error", `{"reason":"join crashed"}`)
		// The connection lives on and the topic can be joined.
		c.sync()
		c.join("2", "conformance:a", "{}")
	})
}

func TestDuplicateJoin(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("1", "term:x", "{}")
		c.send("2", "2", "term:x", "phx_join", `{"push":{"n":2}}`)
		// The old channel's output while dying, the new join's reply, the old
		// join's phx_close (ref = old join_ref), then the new channel's output.
		c.expect("1", nil, "term:x", "terminating", `{"reason":"duplicate_join"}`)
		c.expectReply("2", "2", "term:x", "ok", "{}")
		c.expect("1", "1", "term:x", "phx_close", "{}")
		c.expect("2", nil, "term:x", "after_join", `{"n":2}`)
		// The new join is current; the old join_ref is stale.
		c.send("1", "3", "term:x", "echo", `{"old":true}`)
		c.send("2", "4", "term:x", "echo", `{"new":true}`)
		c.expectReply("2", "4", "term:x", "ok", `{"new":true}`)
	})
}

func TestLeave(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("1", "term:x", "{}")
		c.send("1", "2", "term:x", "phx_leave", "{}")
		c.expectReply("1", "2", "term:x", "ok", "{}")
		c.expect("1", "1", "term:x", "phx_close", "{}")
		// Pushes made in Terminate arrive after the phx_close.
		c.expect("1", nil, "term:x", "terminating", `{"reason":"left"}`)
		c.send("1", "3", "term:x", "echo", "{}")
		c.expectReply(nil, "3", "term:x", "error", `{"reason":"unmatched topic"}`)
	})
}

func TestLeaveUnjoinedTopic(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		// ok, echoing the client's join_ref, and no phx_close.
		c.send("7", "8", "conformance:never", "phx_leave", "{}")
		c.expectReply("7", "8", "conformance:never", "ok", "{}")
		c.sync()
	})
}

func TestStaleJoinRefDropped(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("1", "conformance:a", "{}")
		c.send("9", "2", "conformance:a", "echo", `{"stale":true}`)
		c.send("9", "3", "conformance:a", "phx_leave", "{}")
		// Numeric 1 is not the string "1".
		c.send(1, "4", "conformance:a", "echo", `{"stale":true}`)
		// The channel is still joined, and its messages are handled in
		// order: once this reply is in (the first frame since the join's),
		// the three before it were dropped. A heartbeat's reply would prove
		// nothing: heartbeats are answered at once, whatever the channels
		// are doing.
		c.send("1", "5", "conformance:a", "echo", `{"a":1}`)
		c.expectReply("1", "5", "conformance:a", "ok", `{"a":1}`)
		if n := srv.Stats().StaleDrops(); n != 3 {
			t.Errorf("Stats().StaleDrops() = %d, want 3", n)
		}
	})
}

func TestNullJoinRefAccepted(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("1", "conformance:a", "{}")
		// The reply carries the channel's join_ref, not the message's null.
		c.send(nil, "2", "conformance:a", "echo", `{"a":1}`)
		c.expectReply("1", "2", "conformance:a", "ok", `{"a":1}`)
		c.send(nil, "3", "conformance:a", "phx_leave", "{}")
		c.expectReply("1", "3", "conformance:a", "ok", "{}")
		c.expect("1", "1", "conformance:a", "phx_close", "{}")
	})
}

// A join without join_ref (what a V1 client sends) stores a null join_ref:
// the join reply echoes null, the channel stamps its output with the join's
// ref, phx_close carries null/null, and any later non-null join_ref on the
// topic is stale.
func TestJoinWithoutJoinRef(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.send(nil, "1", "conformance:a", "phx_join", "{}")
		c.expectReply(nil, "1", "conformance:a", "ok", "{}")
		c.send(nil, "2", "conformance:a", "push", `{"x":1}`)
		c.expect("1", nil, "conformance:a", "pushed", `{"x":1}`)
		c.expectReply("1", "2", "conformance:a", "ok", "{}")
		c.send("1", "3", "conformance:a", "echo", "{}")
		c.sync()
		c.send(nil, "4", "conformance:a", "stop", "{}")
		c.expectReply("1", "4", "conformance:a", "ok", "{}")
		c.expect(nil, nil, "conformance:a", "phx_close", "{}")
	})
}

func TestPushAndReplyStampedWithJoinRef(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("11", "conformance:a", "{}")
		c.join("12", "conformance:b", "{}")
		c.send("11", "13", "conformance:a", "push", `{"x":1}`)
		c.expect("11", nil, "conformance:a", "pushed", `{"x":1}`)
		c.expectReply("11", "13", "conformance:a", "ok", "{}")
		c.send(nil, "14", "conformance:b", "push", `{"y":2}`)
		c.expect("12", nil, "conformance:b", "pushed", `{"y":2}`)
		c.expectReply("12", "14", "conformance:b", "ok", "{}")
	})
}

func TestNumericRefsEchoedAsNumbers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.send(nil, 5, "phoenix", "heartbeat", "{}")
		c.expectReply(nil, 5, "phoenix", "ok", "{}")
		c.join(1, "conformance:a", "{}")
		c.send(1, 2, "conformance:a", "push", `{"x":1}`)
		c.expect(1, nil, "conformance:a", "pushed", `{"x":1}`)
		c.expectReply(1, 2, "conformance:a", "ok", "{}")
		c.send(1, 3, "conformance:a", "stop", "{}")
		c.expectReply(1, 3, "conformance:a", "ok", "{}")
		c.expect(1, 1, "conformance:a", "phx_close", "{}")
	})
}

func TestChannelStop(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("1", "term:x", "{}")
		c.send("1", "2", "term:x", "stop", "{}")
		c.expectReply("1", "2", "term:x", "ok", "{}")
		c.expect("1", nil, "term:x", "terminating", `{"reason":"normal"}`)
		c.expect("1", "1", "term:x", "phx_close", "{}")
		c.send("1", "3", "term:x", "echo", "{}")
		c.expectReply(nil, "3", "term:x", "error", `{"reason":"unmatched topic"}`)
	})
}

func TestChannelStopError(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("1", "term:x", "{}")
		c.send("1", "2", "term:x", "stop_error", "{}")
		c.expect("1", nil, "term:x", "terminating", `{"reason":"crashed"}`)
		c.expect("1", "1", "term:x", "phx_error", `{"reason":"channel_crash"}`)
		c.send("1", "3", "term:x", "echo", "{}")
		c.expectReply(nil, "3", "term:x", "error", `{"reason":"unmatched topic"}`)
	})
}

func TestHandlerPanic(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("1", "conformance:a", "{}")
		c.join("2", "conformance:b", "{}")
		c.send("1", "3", "conformance:a", "crash", "{}")
		c.expect("1", "1", "conformance:a", "phx_error", `{"reason":"channel_crash"}`)
		// The connection and the other channel live on.
		c.send("2", "4", "conformance:b", "echo", `{"b":1}`)
		c.expectReply("2", "4", "conformance:b", "ok", `{"b":1}`)
		c.send("1", "5", "conformance:a", "echo", "{}")
		c.expectReply(nil, "5", "conformance:a", "error", `{"reason":"unmatched topic"}`)
		// phoenix.js rejoins with a new join_ref.
		c.join("6", "conformance:a", "{}")
	})
}

func TestAsyncReply(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, d)
		c.join("1", "conformance:a", "{}")
		c.send(nil, "2", "conformance:a", "reply_later", "{}")
		c.expectReply("1", "2", "conformance:a", "ok", "{}")
		// Exactly one reply: the channel replies once, 10 ms later.
		c.expectNoFrame(100 * time.Millisecond)
	})
}

func TestBroadcast(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		sender := dial(t, srv, d)
		others := []*client{dial(t, srv, v2), dial(t, srv, v1)}
		sender.join("1", "conformance:room", "{}")
		for _, o := range others {
			o.join("7", "conformance:room", "{}")
		}

		// broadcast reaches every subscriber, the sender included, as
		// [null, null, ...]; the sender's reply follows its copy.
		sender.send("1", "2", "conformance:room", "broadcast", `{"body":"hi"}`)
		sender.expect(nil, nil, "conformance:room", "broadcasted", `{"body":"hi"}`)
		sender.expectReply("1", "2", "conformance:room", "ok", "{}")
		for _, o := range others {
			o.expect(nil, nil, "conformance:room", "broadcasted", `{"body":"hi"}`)
		}

		// broadcast_from skips the sender.
		sender.send("1", "3", "conformance:room", "broadcast_from", `{"body":"from"}`)
		sender.expectReply("1", "3", "conformance:room", "ok", "{}")
		for _, o := range others {
			o.expect(nil, nil, "conformance:room", "broadcasted", `{"body":"from"}`)
		}
		sender.sync()

		// Endpoint.Broadcast from server code reaches everyone.
		if err := srv.Broadcast("conformance:room", "news", []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
		for _, c := range append(others, sender) {
			c.expect(nil, nil, "conformance:room", "news", `{"n":1}`)
		}
	})
}

func TestBinaryFrames(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv, v2)
	c.join("1", "conformance:bin", "{}")

	// Client push: kind 0, join_ref "1", ref "2", topic, event "up", payload.
	topic, payload := "conformance:bin", []byte{0x00, 0xff, 0x10}
	in := append([]byte{0, 1, 1, byte(len(topic)), 2}, "1"+"2"+topic+"up"...)
	c.SendBinary(append(in, payload...))
	// Server push: kind 0 without ref, stamped with the join_ref.
	c.expectBinary(append(append([]byte{0, 1, byte(len(topic)), 13}, "1"+topic+"binary_pushed"...), payload...))
	// Server reply: kind 1 with join_ref, ref, topic, status.
	c.expectBinary(append(append([]byte{1, 1, 1, byte(len(topic)), 2}, "1"+"2"+topic+"ok"...), payload...))

	// Broadcast: kind 2, topic and event only. A V1 subscriber cannot be
	// sent binary: the frame is dropped for it and its connection lives on.
	old := dial(t, srv, v1)
	old.join("1", "conformance:bin", "{}")
	b := pubsub.NewBroadcast(topic, "blob", payload)
	b.Binary = true
	if err := srv.PubSub().Publish(b); err != nil {
		t.Fatal(err)
	}
	c.expectBinary(append(append([]byte{2, byte(len(topic)), 4}, topic+"blob"...), payload...))
	old.sync()
}

func TestBinaryPushOnV1Refused(t *testing.T) {
	for _, d := range []dialect{v1, v1NoVsn} {
		t.Run(d.name, func(t *testing.T) {
			srv := startServer(t, server.Config{})
			c := dial(t, srv, d)
			c.join("1", "term:v1", "{}")
			// The encoder refuses the binary push; the channel learns it, and
			// the connection lives on.
			c.send("1", "2", "term:v1", "push_binary", "{}")
			c.expectReply("1", "2", "term:v1", "ok", `{"pushed":false}`)
			c.sync()
		})
	}
	t.Run("V2", func(t *testing.T) {
		srv := startServer(t, server.Config{})
		c := dial(t, srv, v2)
		c.join("1", "term:v2", "{}")
		c.send("1", "2", "term:v2", "push_binary", "{}")
		c.expectBinary(append([]byte{0, 1, 7, 3}, "1term:v2bin\x01\x02\x03"...))
		c.expectReply("1", "2", "term:v2", "ok", `{"pushed":true}`)
	})
}

func TestBroadcastFilter(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{})
		filtered := dial(t, srv, d)
		filtered.join("1", "filter:x", "{}")
		plain := dial(t, srv, d)
		plain.join("5", "filter:y", "{}")

		// Dropped for this subscriber.
		if err := srv.Broadcast("filter:x", "secret", []byte(`{"s":1}`)); err != nil {
			t.Fatal(err)
		}
		filtered.sync()
		// Rewritten: a push with the channel's join_ref instead.
		if err := srv.Broadcast("filter:x", "rewrite_me", []byte(`{"r":1}`)); err != nil {
			t.Fatal(err)
		}
		filtered.expect("1", nil, "filter:x", "rewritten", `{"r":1}`)
		// Passed through as the shared broadcast frame.
		if err := srv.Broadcast("filter:x", "plain", []byte(`{"p":1}`)); err != nil {
			t.Fatal(err)
		}
		filtered.expect(nil, nil, "filter:x", "plain", `{"p":1}`)
		// The filter runs per subscriber topic: filter:y gets its own.
		if err := srv.Broadcast("filter:y", "secret", []byte(`{"s":2}`)); err != nil {
			t.Fatal(err)
		}
		plain.sync()
	})
}

// TestDisconnectBroadcast: a "disconnect" broadcast on a socket id closes
// every connection with that id with 1001; other events on the id topic are
// ignored, and other sockets live on.
func TestDisconnectBroadcast(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d dialect) {
		srv := startServer(t, server.Config{
			Connect: func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
				return server.ConnectResult{ID: "user_socket:" + req.Params["user"]}, nil
			},
		})
		a1 := dial(t, srv, d, servertest.Params("user", "1"))
		a2 := dial(t, srv, d, servertest.Params("user", "1"))
		b := dial(t, srv, d, servertest.Params("user", "2"))
		a1.join("1", "conformance:a", "{}")
		b.join("1", "conformance:a", "{}")

		if err := srv.Broadcast("user_socket:1", "other", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		a1.sync()
		a2.sync()

		if err := srv.Disconnect("user_socket:1"); err != nil {
			t.Fatal(err)
		}
		a1.expectClose(ws.StatusGoingAway)
		a2.expectClose(ws.StatusGoingAway)
		b.sync()
		b.send("1", "2", "conformance:a", "echo", "{}")
		b.expectReply("1", "2", "conformance:a", "ok", "{}")
		checkFor(t, frameTimeout, 5*time.Millisecond, func() error {
			if n := srv.Connections(); n != 1 {
				return fmt.Errorf("Connections() = %d, want 1", n)
			}
			return nil
		})
	})
}
