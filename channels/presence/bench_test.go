package presence_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// counter is a Transport that counts frames and bytes.
type counter struct{ frames, bytes atomic.Int64 }

func (c *counter) Send(f protocol.Frame) {
	c.frames.Add(1)
	c.bytes.Add(int64(len(f.Data)))
}

func (c *counter) Disconnect() {}

// benchRoom tracks under the join payload's "key" with a typical meta and
// pushes the state, in AfterJoin.
type benchRoom struct {
	p   *presence.Presence
	key string
}

var benchMeta = json.RawMessage(`{"online_at":1764100000,"device":"browser"}`)

func (r *benchRoom) Join(s *channels.Socket, payload []byte) channels.Reply {
	var jp struct {
		Key string `json:"key"`
	}
	_ = json.Unmarshal(payload, &jp)
	r.key = jp.Key
	return channels.OK(nil)
}

func (r *benchRoom) AfterJoin(s *channels.Socket) {
	if err := r.p.Track(s, r.key, benchMeta); err != nil {
		panic(err)
	}
	_ = r.p.PushState(s)
}

func (r *benchRoom) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	_ = r.p.Update(s, "self", in.Payload)
	return channels.NoReply()
}

func (r *benchRoom) Terminate(*channels.Socket, channels.Reason) {}

// benchNode is a Presence and N connections joined to "room:bench", each
// tracked under its own key, all counted by one transport.
type benchNode struct {
	ps     *pubsub.Local
	p      *presence.Presence
	router *channels.Router
	tr     *counter
}

// benchNodes keeps each node across runs: joining 10,000 members costs
// O(N²) deliveries.
var benchNodes = map[int]*benchNode{}

func nodeWith(b *testing.B, n int) *benchNode {
	if nd := benchNodes[n]; nd != nil {
		return nd
	}
	nd := &benchNode{ps: pubsub.NewLocal(), tr: &counter{}}
	nd.p = presence.New(nd.ps)
	nd.router = channels.NewRouter()
	nd.router.Handle("room:*", nd.p.Wrap(func(string) channels.Channel { return &benchRoom{p: nd.p} }))
	for i := range n {
		nd.connect().Dispatch(joinMsg(fmt.Sprintf("u%d", i)))
	}
	if got := nd.ps.Count("room:bench"); got != n {
		b.Fatalf("%d members, want %d", got, n)
	}
	benchNodes[n] = nd
	return nd
}

func (nd *benchNode) connect() *channels.Mux {
	return channels.NewMux(channels.MuxConfig{Router: nd.router, PubSub: nd.ps, Transport: nd.tr})
}

func joinMsg(key string) protocol.Message {
	return protocol.Message{JoinRef: protocol.StringRef("3"), Ref: protocol.StringRef("3"), Topic: "room:bench",
		Event: channels.EventJoin, Payload: []byte(`{"key":"` + key + `"}`)}
}

// BenchmarkJoin measures a connection joining a topic with N members and
// dropping again: Track, the state push to the joiner, the join diff to the
// N members, then the leave diff to them. The timer runs throughout:
// stopping it around the drop (runtime.ReadMemStats, which stops the world,
// twice per iteration) made the join alone read 190-320 µs at N=1,000 from
// run to run. BenchmarkUpdate is the cost of one diff to N, which the drop
// adds.
func BenchmarkJoin(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			nd := nodeWith(b, n)
			msg := joinMsg("joiner")
			frames0, bytes0 := nd.tr.frames.Load(), nd.tr.bytes.Load()
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				mux := nd.connect()
				mux.Dispatch(msg)
				mux.Close()
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(nd.tr.frames.Load()-frames0)/float64(b.N), "frames/op")
			b.ReportMetric(float64(nd.tr.bytes.Load()-bytes0)/float64(b.N), "B-sent/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/member")
			if p := nd.ps.Count("room:bench"); p != n {
				b.Fatalf("%d members after the run, want %d", p, n)
			}
		})
	}
}

// BenchmarkUpdate measures one change seen by N members: Update and its
// diff broadcast (encoded once), without a state push.
func BenchmarkUpdate(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			nd := nodeWith(b, n)
			mux := nd.connect()
			mux.Dispatch(joinMsg("self"))
			defer mux.Close()
			upd := protocol.Message{JoinRef: protocol.StringRef("3"), Ref: protocol.StringRef("4"), Topic: "room:bench",
				Event: "update", Payload: []byte(`{"status":"away"}`)}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				mux.Dispatch(upd)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkList measures List of a topic with N members that has not
// changed since the last List: the cached state, shared.
func BenchmarkList(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			nd := nodeWith(b, n)
			b.ReportAllocs()
			for b.Loop() {
				_ = nd.p.List("room:bench")
			}
		})
	}
}
