package presence_test

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// Lobby tracks every joiner under the "user" of its join payload and
// pushes the state, once joined (AfterJoin). Mounted through
// Presence.Wrap, it needs no Terminate of its own to untrack.
type Lobby struct {
	presence *presence.Presence
	user     string
}

func (l *Lobby) Join(s *channels.Socket, payload []byte) channels.Reply {
	var p struct {
		User string `json:"user"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.User == "" {
		return channels.Error([]byte(`{"reason":"user required"}`))
	}
	l.user = p.User
	return channels.OK(nil)
}

// AfterJoin runs once the join reply is out and the socket is subscribed.
func (l *Lobby) AfterJoin(s *channels.Socket) {
	_ = l.presence.Track(s, l.user, json.RawMessage(`{"status":"online"}`))
	_ = l.presence.PushState(s)
}

func (l *Lobby) HandleIn(*channels.Socket, channels.Inbound) channels.Result {
	return channels.NoReply()
}

func (l *Lobby) Terminate(*channels.Socket, channels.Reason) {}

// printer is a transport that prints frames, phx_refs masked.
type printer string

var phxRef = regexp.MustCompile(`"phx_ref":"[A-Za-z0-9_-]{16}"`)

func (p printer) Send(f protocol.Frame) {
	fmt.Printf("%s <- %s\n", p, phxRef.ReplaceAll(f.Data, []byte(`"phx_ref":"…"`)))
}

func (p printer) Disconnect() {}

func Example() {
	ps := pubsub.NewLocal()
	pr := presence.New(ps)
	router := channels.NewRouter()
	router.Handle("lobby", pr.Wrap(func(string) channels.Channel { return &Lobby{presence: pr} }))

	join := func(user string) *channels.Mux {
		mux := channels.NewMux(channels.MuxConfig{Router: router, PubSub: ps, Transport: printer(user)})
		mux.Dispatch(protocol.Message{JoinRef: protocol.StringRef("1"), Ref: protocol.StringRef("1"),
			Topic: "lobby", Event: channels.EventJoin, Payload: []byte(`{"user":"` + user + `"}`)})
		return mux
	}
	alice := join("alice")
	bob := join("bob")
	bob.Close() // the connection drops
	alice.Close()
	fmt.Println(string(pr.List("lobby")))
	// Each joiner gets the diff of its own track before the state, as from
	// Phoenix; phoenix.js holds it back until the state and finds it there.

	// Output:
	// alice <- ["1","1","lobby","phx_reply",{"response":{},"status":"ok"}]
	// alice <- [null,null,"lobby","presence_diff",{"joins":{"alice":{"metas":[{"status":"online","phx_ref":"…"}]}},"leaves":{}}]
	// alice <- ["1",null,"lobby","presence_state",{"alice":{"metas":[{"status":"online","phx_ref":"…"}]}}]
	// bob <- ["1","1","lobby","phx_reply",{"response":{},"status":"ok"}]
	// alice <- [null,null,"lobby","presence_diff",{"joins":{"bob":{"metas":[{"status":"online","phx_ref":"…"}]}},"leaves":{}}]
	// bob <- [null,null,"lobby","presence_diff",{"joins":{"bob":{"metas":[{"status":"online","phx_ref":"…"}]}},"leaves":{}}]
	// bob <- ["1",null,"lobby","presence_state",{"alice":{"metas":[{"status":"online","phx_ref":"…"}]},"bob":{"metas":[{"status":"online","phx_ref":"…"}]}}]
	// alice <- [null,null,"lobby","presence_diff",{"joins":{},"leaves":{"bob":{"metas":[{"status":"online","phx_ref":"…"}]}}}]
	// {}
}
