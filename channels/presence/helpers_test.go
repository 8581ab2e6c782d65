package presence_test

import (
	"encoding/json"
	"fmt"
	"github.com/fawkes-rt/fawkes/channels/channelstest"
	"slices"
	"sync"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// room is the test channel. Join payload: {"key": k, "meta": {...}}
// tracks the socket under k with meta and pushes the state, in AfterJoin;
// "notrack": true only pushes the state; "refuse": true tracks in Join,
// then refuses; "crash": true tracks in Join, then panics; "crash_after":
// true tracks in AfterJoin, then panics. Events: "update" {"meta":...}
// updates, "untrack" untracks. A manual room (not mounted through Wrap)
// untracks in its own Terminate.
type room struct {
	p      *presence.Presence
	manual bool
	w      *world
	jp     joinParams
}

type joinParams struct {
	Key        string          `json:"key"`
	Meta       json.RawMessage `json:"meta"`
	NoTrack    bool            `json:"notrack"`
	Refuse     bool            `json:"refuse"`
	Crash      bool            `json:"crash"`
	CrashAfter bool            `json:"crash_after"`
}

func (r *room) Join(s *channels.Socket, payload []byte) channels.Reply {
	if err := json.Unmarshal(payload, &r.jp); err != nil {
		return channels.Error([]byte(`{"reason":"bad payload"}`))
	}
	r.w.joined(s)
	if r.jp.Refuse || r.jp.Crash {
		if err := r.p.Track(s, r.jp.Key, r.jp.Meta); err != nil {
			return channels.Error([]byte(fmt.Sprintf(`{"reason":%q}`, err)))
		}
		if r.jp.Crash {
			panic("room: crash requested")
		}
		return channels.Error([]byte(`{"reason":"refused"}`))
	}
	return channels.OK(nil)
}

// AfterJoin tracks and pushes the state once the socket is subscribed.
func (r *room) AfterJoin(s *channels.Socket) {
	if !r.jp.NoTrack {
		if err := r.p.Track(s, r.jp.Key, r.jp.Meta); err != nil {
			_ = s.Push("track_failed", []byte(fmt.Sprintf(`{"reason":%q}`, err)))
			return
		}
	}
	if r.jp.CrashAfter {
		panic("room: crash after join requested")
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

func (r *room) Terminate(s *channels.Socket, _ channels.Reason) {
	if r.manual {
		_ = r.p.UntrackAll(s)
	}
}

// world is one node: a pubsub.Local, a Presence, and a Router with
// "room:*" (wrapped) and "manual:*" (not wrapped) rooms.
type world struct {
	t      testing.TB
	ps     *pubsub.Local
	p      *presence.Presence
	router *channels.Router

	mu      sync.Mutex
	sockets []*channels.Socket // every socket Join saw, in order
}

func newWorld(t testing.TB) *world {
	return newWorldWith(t, nil)
}

// newWorldWith is newWorld, with setup run on the Presence before use.
func newWorldWith(t testing.TB, setup func(*world)) *world {
	w := &world{t: t, ps: pubsub.NewLocal()}
	w.p = presence.New(w.ps)
	if setup != nil {
		setup(w)
	}
	w.router = channels.NewRouter()
	w.router.Handle("room:*", w.p.Wrap(func(string) channels.Channel { return &room{p: w.p, w: w} }))
	w.router.Handle("manual:*", func(string) channels.Channel { return &room{p: w.p, w: w, manual: true} })
	return w
}

func (w *world) joined(s *channels.Socket) {
	w.mu.Lock()
	w.sockets = append(w.sockets, s)
	w.mu.Unlock()
}

func (w *world) lastSocket() *channels.Socket {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sockets[len(w.sockets)-1]
}

// recorder is a channels.Transport that keeps every frame.
type recorder = channelstest.Recorder

// client is one connection: a real Mux on the world's PubSub.
type client struct {
	t   testing.TB
	mux *channels.Mux
	tr  *recorder
	ref int
}

func (w *world) connect() *client {
	c := &client{t: w.t, tr: &recorder{}}
	c.mux = channels.NewMux(channels.MuxConfig{Router: w.router, PubSub: w.ps, Transport: c.tr})
	w.t.Cleanup(c.mux.Close)
	return c
}

// send dispatches [joinRef, ref, topic, event, payload] with a fresh ref;
// joinRef "" means the ref itself (a join).
func (c *client) send(joinRef, topic, event, payload string) string {
	c.ref++
	ref := fmt.Sprint(c.ref)
	if joinRef == "" {
		joinRef = ref
	}
	c.mux.Dispatch(protocol.Message{JoinRef: protocol.StringRef(joinRef), Ref: protocol.StringRef(ref), Topic: topic, Event: event, Payload: []byte(payload)})
	return ref
}

func (c *client) join(topic, payload string) string {
	return c.send("", topic, channels.EventJoin, payload)
}

// frame is a decoded server frame; refs are JSON tokens ("null", `"1"`).
type frame struct {
	JoinRef, Ref, Topic, Event string
	Payload                    map[string]any
	raw                        protocol.Frame
}

func (c *client) frames() []frame {
	c.t.Helper()
	return decodeFrames(c.t, c.tr.Take())
}

func decodeFrames(t testing.TB, fs []protocol.Frame) []frame {
	t.Helper()
	out := []frame{}
	for _, f := range fs {
		m, err := protocol.V2JSON.Decode(f.Data, f.Binary)
		if err != nil {
			t.Fatalf("server sent an undecodable frame %q: %v", f.Data, err)
		}
		var p map[string]any
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatalf("payload of %q: %v", f.Data, err)
		}
		out = append(out, frame{m.JoinRef.JSON(), m.Ref.JSON(), m.Topic, m.Event, p, f})
	}
	return out
}

func (f frame) String() string {
	return fmt.Sprintf("[%s,%s,%q,%q,%v]", f.JoinRef, f.Ref, f.Topic, f.Event, f.Payload)
}

// metas returns the metas of key in a state (or joins/leaves) object.
func metas(state any, key string) []map[string]any {
	st, _ := state.(map[string]any)
	k, _ := st[key].(map[string]any)
	ms, _ := k["metas"].([]any)
	out := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.(map[string]any))
	}
	return out
}

// refs returns the phx_refs of metas.
func refs(ms []map[string]any) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m["phx_ref"].(string))
	}
	return out
}

func decodeState(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("state %q: %v", b, err)
	}
	return v
}

// view is what phoenix.js's Presence holds for one channel: key -> metas'
// phx_refs, built from presence_state and presence_diff as Presence.js does
// (diffs held back until the state for the current join_ref arrives).
type view struct {
	joinRef  string // the channel's join_ref (JSON token)
	synced   bool
	state    map[string][]string
	pending  []map[string]any
	seenRefs map[string]int // times each phx_ref was announced (state or joins)
}

func newView(joinRef string) *view {
	return &view{joinRef: joinRef, state: map[string][]string{}, seenRefs: map[string]int{}}
}

func (v *view) apply(f frame) {
	if f.JoinRef != "null" && f.JoinRef != v.joinRef {
		return // outdated, dropped by phoenix.js
	}
	switch f.Event {
	case presence.EventState:
		v.state = map[string][]string{}
		for key := range f.Payload {
			v.state[key] = refs(metas(f.Payload, key))
			for _, r := range v.state[key] {
				v.seenRefs[r]++
			}
		}
		v.synced = true
		for _, d := range v.pending {
			v.diff(d)
		}
		v.pending = nil
	case presence.EventDiff:
		if !v.synced {
			v.pending = append(v.pending, f.Payload)
			return
		}
		v.diff(f.Payload)
	}
}

// diff is Presence.syncDiff: joins replace the key with the joined metas
// preceded by the current ones not among them; leaves remove by phx_ref.
func (v *view) diff(d map[string]any) {
	for key := range d["joins"].(map[string]any) {
		joined := refs(metas(d["joins"], key))
		for _, r := range joined {
			v.seenRefs[r]++
		}
		cur := []string{}
		for _, r := range v.state[key] {
			if !slices.Contains(joined, r) {
				cur = append(cur, r)
			}
		}
		v.state[key] = append(cur, joined...)
	}
	for key := range d["leaves"].(map[string]any) {
		left := refs(metas(d["leaves"], key))
		cur, ok := v.state[key]
		if !ok {
			continue
		}
		cur = slices.DeleteFunc(slices.Clone(cur), func(r string) bool { return slices.Contains(left, r) })
		if len(cur) == 0 {
			delete(v.state, key)
		} else {
			v.state[key] = cur
		}
	}
}

// stateRefs is a List result as key -> phx_refs.
func stateRefs(t testing.TB, b []byte) map[string][]string {
	st := decodeState(t, b)
	out := map[string][]string{}
	for key := range st {
		out[key] = refs(metas(st, key))
	}
	return out
}
