package channels_test

// The typed API: route authorization, replies from Go values and errors,
// broadcasts of Go values read back by filters.

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// typed is a channel written with the typed helpers only.
type typed struct {
	user    string
	blocked map[string]bool // set by "block"; read by the filter only after join
}

type chatMsg struct {
	Body string `json:"body"`
	From string `json:"from"`
}

func (c *typed) Join(s *channels.Socket, _ []byte) channels.Reply {
	c.user = s.Conn().ID
	return channels.OKJSON(map[string]string{"user": c.user})
}

func (c *typed) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	switch in.Event {
	case "say":
		err := s.BroadcastJSON("said", chatMsg{Body: string(in.Payload), From: c.user}, channels.Except(s))
		return channels.Replied(channels.OKJSON(struct {
			Sent bool `json:"sent"`
		}{err == nil}))
	case "refuse":
		return channels.Replied(channels.ErrorFrom(fmt.Errorf("db: %w", channels.Refuse("room_full")), "internal"))
	case "hide":
		return channels.Replied(channels.ErrorFrom(fmt.Errorf("db: connection reset"), "internal"))
	case "unencodable":
		return channels.Replied(channels.OKJSON(map[string]any{"c": make(chan int)}))
	case "not_object":
		return channels.Replied(channels.OKJSON([]int{1}))
	}
	return channels.Replied(channels.ErrorReason("unknown"))
}

func (c *typed) FilterBroadcast(_ *channels.Socket, b *pubsub.Broadcast) bool {
	m, err := pubsub.Decode[chatMsg](b)
	return err != nil || !c.blocked[m.From]
}

func (c *typed) Terminate(*channels.Socket, channels.Reason) {}

func TestAuthorizeDecidesBeforeTheChannelExists(t *testing.T) {
	var made atomic.Int32
	router := channels.NewRouter()
	router.Handle("room:*", func(string) channels.Channel { made.Add(1); return &typed{} },
		channels.Authorize(func(req channels.JoinRequest) error {
			switch req.Conn.ID {
			case "full":
				return fmt.Errorf("lookup: %w", channels.Refuse("room_full"))
			case "stranger":
				return fmt.Errorf("not a member of %s", req.Topic) // never shown
			}
			return nil
		}))
	for id, want := range map[string]string{
		"full":     `["1","1","room:a","phx_reply",{"status":"error","response":{"reason":"room_full"}}]`,
		"stranger": `["1","1","room:a","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]`,
		"member":   `["1","1","room:a","phx_reply",{"status":"ok","response":{"user":"member"}}]`,
	} {
		made.Store(0)
		x, rec, _ := newSpyMux(t, channels.MuxConfig{Router: router, Conn: channels.Conn{ID: id}})
		x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
		rec.expect(t, want)
		if n, wantN := made.Load(), map[bool]int32{true: 1, false: 0}[id == "member"]; n != wantN {
			t.Errorf("%s: factory ran %d times, want %d", id, n, wantN)
		}
	}
}

func TestTypedReplies(t *testing.T) {
	router := channels.NewRouter()
	router.Handle("room:*", func(string) channels.Channel { return &typed{} })
	x, rec, _ := newSpyMux(t, channels.MuxConfig{Router: router, Conn: channels.Conn{ID: "u"}})
	x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	rec.take()
	x.Dispatch(msg("1", "2", "room:a", "refuse", "{}"))
	x.Dispatch(msg("1", "3", "room:a", "hide", "{}"))
	x.Dispatch(msg("1", "4", "room:a", "other", "{}"))
	rec.expect(t,
		`["1","2","room:a","phx_reply",{"status":"error","response":{"reason":"room_full"}}]`,
		`["1","3","room:a","phx_reply",{"status":"error","response":{"reason":"internal"}}]`,
		`["1","4","room:a","phx_reply",{"status":"error","response":{"reason":"unknown"}}]`,
	)
	// A reply that cannot be encoded crashes the channel, as in Phoenix.
	for i, event := range []string{"unencodable", "not_object"} {
		ref := fmt.Sprint(10 + i)
		x.Dispatch(msg(ref, ref, "room:a", channels.EventJoin, "{}"))
		rec.take()
		x.Dispatch(msg(ref, "20", "room:a", event, "{}"))
		rec.expect(t, `["`+ref+`","`+ref+`","room:a","phx_error",{"reason":"channel_crash"}]`)
	}
}

func TestBroadcastJSONFilteredWithDecode(t *testing.T) {
	ps := pubsub.NewLocal()
	chans := map[string]*typed{}
	join := func(id string) (*channels.Mux, *recorder) {
		router := channels.NewRouter()
		router.Handle("room:*", func(string) channels.Channel {
			c := &typed{blocked: map[string]bool{"spammer": id == "bob"}}
			chans[id] = c
			return c
		})
		x, rec, _ := newSpyMux(t, channels.MuxConfig{Router: router, PubSub: ps, Conn: channels.Conn{ID: id}})
		x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
		rec.take()
		return x, rec
	}
	alice, aliceRec := join("alice")
	spammer, spammerRec := join("spammer")
	_, bobRec := join("bob")

	alice.Dispatch(msg("1", "2", "room:a", "say", `"hi"`))
	spammer.Dispatch(msg("1", "2", "room:a", "say", `"buy"`))
	aliceRec.expect(t,
		`["1","2","room:a","phx_reply",{"status":"ok","response":{"sent":true}}]`, // not her own
		`[null,null,"room:a","said",{"body":"\"buy\"","from":"spammer"}]`)
	spammerRec.expect(t,
		`[null,null,"room:a","said",{"body":"\"hi\"","from":"alice"}]`,
		`["1","2","room:a","phx_reply",{"status":"ok","response":{"sent":true}}]`)
	bobRec.expect(t, `[null,null,"room:a","said",{"body":"\"hi\"","from":"alice"}]`) // spammer hidden

	// A broadcast from another node arrives as bytes: the same filter
	// decodes it.
	if err := ps.Publish(pubsub.NewBroadcast("room:a", "said", []byte(`{"body":"x","from":"spammer"}`))); err != nil {
		t.Fatal(err)
	}
	bobRec.expect(t)
	aliceRec.expect(t, `[null,null,"room:a","said",{"body":"x","from":"spammer"}]`)

	// Server code publishes the same way.
	if err := channels.Publish(ps, "room:a", "said", chatMsg{Body: "from the server", From: "system"}); err != nil {
		t.Fatal(err)
	}
	bobRec.expect(t, `[null,null,"room:a","said",{"body":"from the server","from":"system"}]`)
	if err := channels.Publish(ps, "room:a", "said", []int{1}); err == nil {
		t.Error("Publish of a JSON array: no error")
	}
}

func TestDecodeSharesOneDecodingPerBroadcast(t *testing.T) {
	b := pubsub.NewBroadcast("t", "e", []byte(`{"body":"x","from":"y"}`))
	m1, err1 := pubsub.Decode[*chatMsg](b)
	m2, err2 := pubsub.Decode[*chatMsg](b)
	if err1 != nil || err2 != nil || m1 != m2 || m1.From != "y" {
		t.Errorf("Decode twice = %p %v, %p %v; want one shared value", m1, err1, m2, err2)
	}
	v := chatMsg{Body: "z"}
	b, err := pubsub.NewJSONBroadcast("t", "e", &v)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pubsub.Decode[chatMsg](b); got != v {
		t.Errorf("Decode of the publisher's *T as T = %+v, want %+v", got, v)
	}
	if _, err := pubsub.Decode[chatMsg](pubsub.NewBroadcast("t", "e", []byte(`{"body":1}`))); err == nil {
		t.Error("Decode of a mistyped payload: no error")
	}
}

// dropAll is a Filter that drops every broadcast it is asked about.
type dropAll struct{ typed }

func (*dropAll) FilterBroadcast(*channels.Socket, *pubsub.Broadcast) bool { return false }

func TestInterceptNarrowsTheFilter(t *testing.T) {
	ps := pubsub.NewLocal()
	router := channels.NewRouter()
	router.Handle("room:*", func(string) channels.Channel { return &dropAll{} }, channels.Intercept("secret"))
	x, rec, _ := newSpyMux(t, channels.MuxConfig{Router: router, PubSub: ps})
	x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	rec.take()
	for _, event := range []string{"secret", "public"} {
		if err := channels.Publish(ps, "room:a", event, nil); err != nil {
			t.Fatal(err)
		}
	}
	rec.expect(t, `[null,null,"room:a","public",{}]`)
}
