package presenceredis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/channelstest"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/presence/presenceredis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/protocol"
)

// node is one Fawkes node: a Redis PubSub with its own client, a Presence
// shared through presenceredis, and a Router with "room:*".
type node struct {
	t      *testing.T
	name   string
	client *goredis.Client
	ps     *redis.PubSub
	p      *presence.Presence
	cl     *presenceredis.Cluster
	router *channels.Router
}

// newNode starts a node on the Redis at addr and waits until it is
// connected.
func newNode(t *testing.T, name, addr string, cfg redis.Config) *node {
	t.Helper()
	n := &node{t: t, name: name}
	n.client = goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: 500 * time.Millisecond})
	cfg.Client = n.client
	ps, err := redis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.ps = ps
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ps.WaitConnected(ctx); err != nil {
		t.Fatalf("node %s not connected to redis: %v", name, err)
	}
	n.p = presence.New(ps)
	n.cl = presenceredis.Attach(n.p, ps, presenceredis.Config{})
	n.router = channels.NewRouter()
	n.router.Handle("room:*", n.p.Wrap(func(string) channels.Channel { return &room{p: n.p} }))
	closeLater(t, func() {
		_ = n.cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = n.ps.Close(ctx)
		_ = n.client.Close()
	})
	return n
}

// closing holds, per test, the nodes being closed.
var closing sync.Map // *testing.T -> *sync.WaitGroup

// closeLater runs f when the test ends, concurrently with the other nodes'
// (a PubSub takes up to StallAfter/3 to close), and waits for all of them.
func closeLater(t *testing.T, f func()) {
	v, loaded := closing.LoadOrStore(t, &sync.WaitGroup{})
	wg := v.(*sync.WaitGroup)
	if !loaded {
		t.Cleanup(func() {
			wg.Wait()
			closing.Delete(t)
		})
	}
	t.Cleanup(func() { wg.Go(f) })
}

// waitMember waits until the node is a member of the cluster: only then
// can it be taken for dead, or rejoin after Redis lost its data. The key
// is the PubSub's (see nodes.go in package redis).
func (n *node) waitMember() {
	n.t.Helper()
	waitFor(n.t, 5*time.Second, func() string { return "node " + n.name + " to join the cluster" }, func() bool {
		ok, _ := n.client.SIsMember(context.Background(), n.ps.Key("nodes"), n.ps.NodeID()).Result()
		return ok
	})
}

// kill makes the node dead to the cluster without a goodbye, as kill -9
// would: its Redis client is closed under it, so it renews nothing and
// publishes nothing more.
func (n *node) kill() { _ = n.client.Close() }

// room tracks the joiner under "key" with "meta" and pushes the state, in
// AfterJoin; "notrack": true only pushes the state. Events: "update"
// {"meta":...}, "untrack".
type room struct {
	p  *presence.Presence
	jp struct {
		Key     string          `json:"key"`
		Meta    json.RawMessage `json:"meta"`
		NoTrack bool            `json:"notrack"`
	}
}

func (r *room) Join(_ *channels.Socket, payload []byte) channels.Reply {
	if err := json.Unmarshal(payload, &r.jp); err != nil {
		return channels.Error([]byte(`{"reason":"bad payload"}`))
	}
	return channels.OK(nil)
}

func (r *room) AfterJoin(s *channels.Socket) {
	if !r.jp.NoTrack {
		if err := r.p.Track(s, r.jp.Key, r.jp.Meta); err != nil {
			_ = s.Push("track_failed", []byte(fmt.Sprintf(`{"reason":%q}`, err)))
		}
	}
	_ = r.p.PushState(s)
}

func (r *room) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	var err error
	switch in.Event {
	case "update":
		var v struct {
			Meta json.RawMessage `json:"meta"`
		}
		_ = json.Unmarshal(in.Payload, &v)
		err = r.p.Update(s, r.jp.Key, v.Meta)
	case "untrack":
		err = r.p.Untrack(s, r.jp.Key)
	}
	if err != nil {
		return channels.Replied(channels.Error([]byte(fmt.Sprintf(`{"reason":%q}`, err))))
	}
	return channels.Replied(channels.OK(nil))
}

func (r *room) Terminate(*channels.Socket, channels.Reason) {}

// client is one connection to a node, with a phoenix.js Presence model of
// the one topic it joins.
type client struct {
	t     testing.TB
	name  string
	mux   *channels.Mux
	tr    *channelstest.Recorder
	ref   int
	topic string

	mu     sync.Mutex
	frames []frame  // every frame, decoded
	view   *phxView // of the last join
}

func (n *node) connect(name string) *client {
	c := &client{t: n.t, name: name, tr: &channelstest.Recorder{}}
	c.mux = channels.NewMux(channels.MuxConfig{Router: n.router, PubSub: n.ps, Transport: c.tr})
	n.t.Cleanup(c.mux.Close)
	return c
}

// join joins topic with a join payload; the view starts over, as
// phoenix.js's Presence does for a new join_ref.
func (c *client) join(topic, payload string) {
	c.ref++
	ref := fmt.Sprint(c.ref)
	c.topic = topic
	c.mu.Lock()
	c.poll()
	c.view = newView(`"` + ref + `"`)
	c.mu.Unlock()
	c.mux.Dispatch(protocol.Message{JoinRef: protocol.StringRef(ref), Ref: protocol.StringRef(ref), Topic: topic, Event: channels.EventJoin, Payload: []byte(payload)})
}

// send sends event on the joined topic.
func (c *client) send(event, payload string) {
	c.ref++
	ref := fmt.Sprint(c.ref)
	c.mux.Dispatch(protocol.Message{JoinRef: protocol.StringRef(fmt.Sprint(c.joinRef())), Ref: protocol.StringRef(ref), Topic: c.topic, Event: event, Payload: []byte(payload)})
}

func (c *client) joinRef() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Trim(c.view.joinRef, `"`)
}

// leave leaves the joined topic.
func (c *client) leave() { c.send(channels.EventLeave, `{}`) }

// poll decodes the frames recorded since the last poll into the view;
// c.mu is held.
func (c *client) poll() {
	for _, f := range c.tr.Take() {
		m, err := protocol.V2JSON.Decode(f.Data, f.Binary)
		if err != nil {
			c.t.Errorf("%s: undecodable frame %q: %v", c.name, f.Data, err)
			continue
		}
		fr := frame{joinRef: m.JoinRef.JSON(), event: m.Event, payload: m.Payload}
		c.frames = append(c.frames, fr)
		if c.view != nil {
			c.view.apply(c.t, fr)
		}
	}
}

// keys returns the keys of the client's presence list, sorted, and
// whether it has had its state.
func (c *client) keys() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.poll()
	if c.view == nil || !c.view.synced {
		return nil
	}
	return c.view.keys()
}

// refsOf returns the phx_refs the client lists under key.
func (c *client) refsOf(key string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.poll()
	return slices.Clone(c.view.state[key])
}

// diffs returns the presence_diff payloads received so far.
func (c *client) diffs() []diffPayload {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.poll()
	var out []diffPayload
	for _, f := range c.frames {
		if f.event == presence.EventDiff {
			out = append(out, decodeDiff(c.t, f.payload))
		}
	}
	return out
}

// states returns the presence_state payloads received so far.
func (c *client) states() []map[string]entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.poll()
	var out []map[string]entry
	for _, f := range c.frames {
		if f.event == presence.EventState {
			out = append(out, decodeSide(c.t, f.payload))
		}
	}
	return out
}

type frame struct {
	joinRef string // JSON token
	event   string
	payload []byte
}

// entry is one key of a state or diff side.
type entry struct {
	Metas []map[string]any `json:"metas"`
}

type diffPayload struct {
	Joins  map[string]entry `json:"joins"`
	Leaves map[string]entry `json:"leaves"`
}

func decodeDiff(t testing.TB, b []byte) diffPayload {
	var d diffPayload
	if err := json.Unmarshal(b, &d); err != nil || d.Joins == nil || d.Leaves == nil {
		t.Errorf("presence_diff %s: %v; want joins and leaves objects", b, err)
	}
	return d
}

func decodeSide(t testing.TB, b []byte) map[string]entry {
	var s map[string]entry
	if err := json.Unmarshal(b, &s); err != nil {
		t.Errorf("presence state %s: %v", b, err)
	}
	return s
}

func refsIn(e entry) []string {
	var out []string
	for _, m := range e.Metas {
		r, _ := m["phx_ref"].(string)
		out = append(out, r)
	}
	return out
}

// phxView is phoenix.js's Presence (1.8) for one join: state and diffs
// applied as syncState and syncDiff do, diffs held back until the state of
// the current join_ref arrives; keys map to their metas' phx_refs.
type phxView struct {
	joinRef string
	synced  bool
	state   map[string][]string
	pending []diffPayload
}

func newView(joinRef string) *phxView {
	return &phxView{joinRef: joinRef, state: map[string][]string{}}
}

func (v *phxView) apply(t testing.TB, f frame) {
	if f.joinRef != "null" && f.joinRef != v.joinRef {
		return // an outdated join's, dropped by phoenix.js
	}
	switch f.event {
	case presence.EventState:
		v.state = map[string][]string{}
		for key, e := range decodeSide(t, f.payload) {
			v.state[key] = refsIn(e)
		}
		v.synced = true
		for _, d := range v.pending {
			v.diff(d)
		}
		v.pending = nil
	case presence.EventDiff:
		d := decodeDiff(t, f.payload)
		if !v.synced {
			v.pending = append(v.pending, d)
			return
		}
		v.diff(d)
	}
}

// diff is syncDiff: each joined key gets its current metas not among the
// joined ones, then the joined ones; leaves remove by phx_ref and drop a
// key left without metas. (JSON object order does not matter to the
// membership this model checks.)
func (v *phxView) diff(d diffPayload) {
	for key, e := range d.Joins {
		joined := refsIn(e)
		var cur []string
		for _, r := range v.state[key] {
			if !slices.Contains(joined, r) {
				cur = append(cur, r)
			}
		}
		v.state[key] = append(cur, joined...)
	}
	for key, e := range d.Leaves {
		cur, ok := v.state[key]
		if !ok {
			continue
		}
		left := refsIn(e)
		cur = slices.DeleteFunc(slices.Clone(cur), func(r string) bool { return slices.Contains(left, r) })
		if len(cur) == 0 {
			delete(v.state, key)
		} else {
			v.state[key] = cur
		}
	}
}

func (v *phxView) keys() []string {
	out := make([]string, 0, len(v.state))
	for k := range v.state {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// listed returns the state a node's List gives, as key -> phx_refs.
func listed(t testing.TB, n *node, topic string) map[string][]string {
	out := map[string][]string{}
	for key, e := range decodeSide(t, n.p.List(topic)) {
		out[key] = refsIn(e)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// waitFor polls cond every 10 ms until it holds, failing after within.
func waitFor(t testing.TB, within time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// converge waits until every client lists exactly keys.
func converge(t testing.TB, within time.Duration, keys []string, clients ...*client) {
	t.Helper()
	want := slices.Clone(keys)
	sort.Strings(want)
	waitFor(t, within, func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "want %v everywhere; have", want)
		for _, c := range clients {
			fmt.Fprintf(&b, " %s=%v", c.name, c.keys())
		}
		return b.String()
	}, func() bool {
		for _, c := range clients {
			if !slices.Equal(c.keys(), want) {
				return false
			}
		}
		return true
	})
}
