package servertest

import "fmt"

// Channel returns a handle on topic, without joining it (to push on a topic
// that is not joined, say). Join returns a joined one.
func (c *Client) Channel(topic string) *Channel { return &Channel{c: c, Topic: topic} }

// Join joins topic with payload (as for Channel.Push) and fails the test
// unless the server replies "ok". The reply is in the Channel's
// JoinReply.
func (c *Client) Join(topic string, payload any) *Channel {
	c.t.Helper()
	ch, r := c.TryJoin(topic, payload)
	if !r.OK() {
		c.t.Fatalf("servertest: join %s refused: %s", topic, r)
	}
	return ch
}

// TryJoin joins topic with payload and returns the channel and the
// reply, whatever its status.
func (c *Client) TryJoin(topic string, payload any) (*Channel, Reply) {
	c.t.Helper()
	ch := &Channel{c: c, Topic: topic}
	r := ch.Rejoin(payload)
	return ch, r
}

// Channel is one topic of a Client, joined or not.
type Channel struct {
	c *Client
	// Topic is the channel's topic.
	Topic string
	// JoinRef is the ref of the channel's last phx_join ("" before any):
	// its pushes carry it, and messages with another non-null join_ref are
	// not the channel's (phoenix.js drops them as outdated).
	JoinRef string
	// JoinReply is the reply to the last phx_join.
	JoinReply Reply
}

// Rejoin sends phx_join again (a new join_ref, as phoenix.js after an
// error) and returns the reply.
func (ch *Channel) Rejoin(payload any) Reply {
	ch.c.t.Helper()
	ch.JoinReply = ch.c.AwaitReply(ch.SendJoin(payload))
	return ch.JoinReply
}

// SendJoin sends phx_join without waiting for the reply, and returns its
// ref (also the channel's JoinRef from then on, as phoenix.js sends
// join_ref == ref): read the reply with Client.AwaitReply.
func (ch *Channel) SendJoin(payload any) string {
	ch.c.t.Helper()
	data, err := encodePayload(payload)
	if err != nil {
		ch.c.t.Fatalf("servertest: join payload: %v", err)
	}
	ref := ch.c.nextRef()
	ch.JoinRef = ref
	if err := ch.c.conn.send(ch.c.codec.encodeText(ref, ref, ch.Topic, "phx_join", data), false); err != nil {
		ch.c.t.Fatalf("servertest: join %s: %v", ch.Topic, err)
	}
	return ref
}

// Send sends event with payload (as for Push) on the channel without
// waiting for the reply, and returns its ref: read the reply with
// Client.AwaitReply.
func (ch *Channel) Send(event string, payload any) string {
	ch.c.t.Helper()
	return ch.c.Send(ch.JoinRef, ch.Topic, event, payload)
}

// Push sends event with payload and waits for the reply. payload is nil
// ({}), JSON text (a string, []byte or json.RawMessage), or a Go value
// encoded with encoding/json.
func (ch *Channel) Push(event string, payload any) Reply {
	ch.c.t.Helper()
	return ch.c.AwaitReply(ch.c.Send(ch.JoinRef, ch.Topic, event, payload))
}

// PushBinary sends event with raw bytes in a V2 binary frame (as
// phoenix.js does for an ArrayBuffer payload) and waits for the reply. V1
// has no binary frames: a V1 client fails the test.
func (ch *Channel) PushBinary(event string, payload []byte) Reply {
	ch.c.t.Helper()
	if ch.c.codec.v1 {
		ch.c.t.Fatalf("servertest: binary push %s: V1 has no binary frames", event)
	}
	ref := ch.c.nextRef()
	frame, err := encodeBinary(ch.JoinRef, ref, ch.Topic, event, payload)
	if err == nil {
		err = ch.c.conn.send(frame, true)
	}
	if err != nil {
		ch.c.t.Fatalf("servertest: binary push %s: %v", event, err)
	}
	return ch.c.AwaitReply(ref)
}

// Leave sends phx_leave and waits for its reply.
func (ch *Channel) Leave() Reply {
	ch.c.t.Helper()
	return ch.Push("phx_leave", nil)
}

// mine reports whether m, not a reply, belongs to the channel: its topic,
// and its join (or no join_ref, as broadcasts).
func (ch *Channel) mine(m Message) bool {
	return m.Topic == ch.Topic && m.Event != EventReply && (m.JoinRef == "" || m.JoinRef == ch.JoinRef)
}

// Await waits for the next push or broadcast of event on the channel and
// takes it. Other messages stay for later waits.
func (ch *Channel) Await(event string) Message {
	ch.c.t.Helper()
	return ch.c.await(fmt.Sprintf("%q on %s", event, ch.Topic), func(m Message) bool { return ch.mine(m) && m.Event == event })
}

// Received takes the pushes and broadcasts of event on the channel that
// have arrived, without waiting (after Sync, say, to check that something
// was not sent).
func (ch *Channel) Received(event string) []Message {
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Message
	kept := c.inbox[:0:0]
	for _, m := range c.inbox {
		if ch.mine(m) && m.Event == event {
			out = append(out, m)
		} else {
			kept = append(kept, m)
		}
	}
	c.inbox = kept
	return out
}
