package presence_test

import (
	"errors"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/channelstest"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// tracker tracks "u" on join and records Track's error.
type tracker struct {
	p   *presence.Presence
	err *error
}

func (c *tracker) Join(*channels.Socket, []byte) channels.Reply { return channels.OK(nil) }
func (c *tracker) AfterJoin(s *channels.Socket)                 { *c.err = c.p.Track(s, "u", nil) }
func (c *tracker) HandleIn(*channels.Socket, channels.Inbound) channels.Result {
	return channels.NoReply()
}
func (c *tracker) Terminate(*channels.Socket, channels.Reason) {}

// TestNewNilAdoptsTheSocketsPubSub: New(nil) broadcasts on the PubSub of
// the sockets it tracks, and refuses a socket of another PubSub instead of
// broadcasting where nobody listens.
func TestNewNilAdoptsTheSocketsPubSub(t *testing.T) {
	p := presence.New(nil)
	var err error
	router := channels.NewRouter()
	router.Handle("room:*", p.Wrap(func(string) channels.Channel { return &tracker{p: p, err: &err} }))
	join := protocol.Message{JoinRef: protocol.StringRef("1"), Ref: protocol.StringRef("1"), Topic: "room:a", Event: channels.EventJoin}

	ps := pubsub.NewLocal()
	rec := &channelstest.Recorder{}
	x := channels.NewMux(channels.MuxConfig{Router: router, PubSub: ps, Transport: rec})
	defer x.Close()
	x.Dispatch(join)
	if err != nil {
		t.Fatalf("Track: %v", err)
	}
	if frames := rec.Take(); len(frames) != 2 { // the join reply, the diff of the track
		t.Fatalf("%d frames, want the join reply and a presence_diff", len(frames))
	}

	other := channels.NewMux(channels.MuxConfig{Router: router, PubSub: pubsub.NewLocal(), Transport: &channelstest.Recorder{}})
	defer other.Close()
	other.Dispatch(join)
	if !errors.Is(err, presence.ErrOtherPubSub) {
		t.Errorf("Track from a socket of another PubSub: %v, want ErrOtherPubSub", err)
	}
}
