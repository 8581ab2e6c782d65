package channels_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// broadcastOnJoinReply is a Transport that, when the join reply goes out,
// broadcasts on the topic at once, as another client does that reacts to
// the join (a LongPoll POST is acknowledged before the join is handled, so
// nothing else orders the two).
type broadcastOnJoinReply struct {
	ps     pubsub.PubSub
	mu     sync.Mutex
	frames []string
}

func (b *broadcastOnJoinReply) Send(f protocol.Frame) {
	b.mu.Lock()
	b.frames = append(b.frames, string(f.Data))
	b.mu.Unlock()
	if strings.Contains(string(f.Data), `"phx_reply"`) {
		_ = b.ps.Publish(pubsub.NewBroadcast("room:a", "news", []byte(`{}`)))
	}
}

func (b *broadcastOnJoinReply) Disconnect() {}

// TestJoinSubscribesBeforeReplying: a broadcast made as soon as the join
// reply is out reaches the channel, after the reply, as in Phoenix, whose
// channel subscribes before it answers the join.
func TestJoinSubscribesBeforeReplying(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		ps := pubsub.NewLocal()
		tr := &broadcastOnJoinReply{ps: ps}
		router := channels.NewRouter()
		router.Handle("room:*", func(string) channels.Channel { return &spy{log: &eventLog{}} })
		x := channels.NewMux(channels.MuxConfig{Router: router, PubSub: ps, Transport: tr, Concurrent: concurrent})
		x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
		waitFor(t, "the reply and the broadcast", func() bool {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			return len(tr.frames) >= 2
		})
		x.Close()
		tr.mu.Lock()
		got := tr.frames
		tr.mu.Unlock()
		if len(got) != 2 || !strings.Contains(got[0], `"phx_reply"`) || !strings.Contains(got[1], `"news"`) {
			t.Fatalf("concurrent %v: frames %q, want the join reply, then the broadcast", concurrent, got)
		}
	}
}
