package redis_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/channelstest"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
	"github.com/fawkes-rt/fawkes/protocol"
)

// tenantRoom is a channel whose Filter lets through the broadcasts whose
// "tenant" header is its member's tenant, or "*", and notes what it saw.
type tenantRoom struct {
	tenant string

	mu   sync.Mutex
	seen []string // "tenant header|meta", one per broadcast filtered
}

func (c *tenantRoom) Join(*channels.Socket, []byte) channels.Reply { return channels.OK(nil) }

func (c *tenantRoom) HandleIn(*channels.Socket, channels.Inbound) channels.Result {
	return channels.Replied(channels.ErrorReason("unknown"))
}

func (c *tenantRoom) Terminate(*channels.Socket, channels.Reason) {}

func (c *tenantRoom) FilterBroadcast(_ *channels.Socket, b *pubsub.Broadcast) bool {
	tenant := b.Header.Get("tenant")
	c.mu.Lock()
	c.seen = append(c.seen, fmt.Sprintf("%s|%v", tenant, b.Meta))
	c.mu.Unlock()
	return tenant == c.tenant || tenant == "*"
}

func (c *tenantRoom) saw() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seen)
}

// member joins room:1 on ps as a member of tenant, through a Mux as a
// connection would.
func member(t *testing.T, ps pubsub.PubSub, tenant string) (*tenantRoom, *channelstest.Recorder) {
	t.Helper()
	room := &tenantRoom{tenant: tenant}
	router := channels.NewRouter()
	router.Handle("room:*", func(string) channels.Channel { return room })
	rec := &channelstest.Recorder{}
	x := channels.NewMux(channels.MuxConfig{Router: router, PubSub: ps, Transport: rec})
	t.Cleanup(x.Close)
	x.Dispatch(protocol.Message{JoinRef: protocol.StringRef("1"), Ref: protocol.StringRef("1"), Topic: "room:1", Event: channels.EventJoin, Payload: []byte(`{}`)})
	waitFor(t, tenant+"'s join reply", func() bool { return rec.Len() == 1 })
	rec.Take()
	return room, rec
}

// A filter on another node sees the header a broadcast was published with,
// as a filter on the publishing node does: the header crosses the cluster.
// Meta does not.
func TestHeaderReachesFiltersOnEveryNode(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr), node(t, addr)
	acmeOnB, acmeRecOnB := member(t, b, "acme")
	otherOnB, otherRecOnB := member(t, b, "other")
	acmeOnA, acmeRecOnA := member(t, a, "acme")

	publish := func(n int, opts ...channels.BroadcastOption) {
		t.Helper()
		if err := channels.Publish(a, "room:1", "msg", map[string]int{"n": n}, opts...); err != nil {
			t.Fatal(err)
		}
	}
	publish(1, channels.WithHeader("tenant", "acme"), channels.WithMeta("local"))
	publish(2, channels.WithHeader("tenant", "other"), channels.WithHeader("tenant", "ignored"))
	publish(3) // no header: no tenant's
	publish(4, channels.WithHeader("kind", "notice"), channels.WithHeader("tenant", "*"))
	// Broadcasts of one node arrive in order: once the last one is in,
	// every one before it has been filtered.
	frames := func(name string, rec *channelstest.Recorder) []string {
		t.Helper()
		var got []string
		waitFor(t, "the last broadcast at "+name, func() bool {
			for _, f := range rec.Take() {
				got = append(got, string(f.Data))
			}
			return len(got) > 0 && strings.Contains(got[len(got)-1], `"n":4`)
		})
		return got
	}
	msg := func(n int) string { return fmt.Sprintf(`[null,null,"room:1","msg",{"n":%d}]`, n) }
	for _, c := range []struct {
		name string
		rec  *channelstest.Recorder
		room *tenantRoom
		want []string
		saw  []string
	}{
		{"acme on B", acmeRecOnB, acmeOnB, []string{msg(1), msg(4)}, []string{"acme|<nil>", "other|<nil>", "|<nil>", "*|<nil>"}},
		{"other on B", otherRecOnB, otherOnB, []string{msg(2), msg(4)}, []string{"acme|<nil>", "other|<nil>", "|<nil>", "*|<nil>"}},
		{"acme on A", acmeRecOnA, acmeOnA, []string{msg(1), msg(4)}, []string{"acme|local", "other|<nil>", "|<nil>", "*|<nil>"}},
	} {
		if got := frames(c.name, c.rec); !slices.Equal(got, c.want) {
			t.Errorf("%s got %q, want %q", c.name, got, c.want)
		}
		if saw := c.room.saw(); !slices.Equal(saw, c.saw) {
			t.Errorf("%s's filter saw (tenant header|meta) %q, want %q", c.name, saw, c.saw)
		}
	}
}
