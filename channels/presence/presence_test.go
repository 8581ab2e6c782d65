package presence_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

var refPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16}$`)

// checkRef checks a phx_ref is 16 URL-safe base64 characters of 12 bytes.
func checkRef(t *testing.T, r any) string {
	t.Helper()
	s, _ := r.(string)
	if !refPattern.MatchString(s) {
		t.Fatalf("phx_ref %v: want 16 URL-safe base64 characters", r)
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err != nil || len(b) != 12 {
		t.Fatalf("phx_ref %q decodes to %d bytes, %v; want 12", s, len(b), err)
	}
	return s
}

// stateIn returns the payload of the last presence_state in fs.
func stateIn(t *testing.T, fs []frame) map[string]any {
	t.Helper()
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].Event == presence.EventState {
			return fs[i].Payload
		}
	}
	t.Fatalf("no presence_state in %v", fs)
	return nil
}

// TestJoinPushesStateAfterReplyAndBroadcastsDiff checks a join as the
// room's AfterJoin does it (Track, then PushState): the ok reply, then the
// diff of the joiner's own track, which it is already subscribed to (as
// from Phoenix, where it may come first too), then the state with it.
func TestJoinPushesStateAfterReplyAndBroadcastsDiff(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.connect(), w.connect()

	alice.join("room:1", `{"key":"alice","meta":{"name":"Alice"}}`)
	got := alice.frames()
	if len(got) != 3 || got[0].Event != "phx_reply" || got[0].Payload["status"] != "ok" {
		t.Fatalf("alice's join: want the ok reply, her diff and the state, got %v", got)
	}
	if got[1].Event != presence.EventDiff || len(metas(got[1].Payload["joins"], "alice")) != 1 {
		t.Fatalf("want the diff of alice's own join second, got %v", got[1])
	}
	st := got[2]
	if st.Event != presence.EventState || st.JoinRef != `"1"` || st.Ref != "null" || st.Topic != "room:1" {
		t.Fatalf("want [\"1\",null,\"room:1\",\"presence_state\",...], got %v", st)
	}
	am := metas(st.Payload, "alice")
	if len(am) != 1 || am[0]["name"] != "Alice" || len(st.Payload) != 1 {
		t.Fatalf("state %v: want alice with her meta only", st.Payload)
	}
	aliceRef := checkRef(t, am[0]["phx_ref"])

	bob.join("room:1", `{"key":"bob","meta":{"name":"Bob"}}`)
	got = bob.frames()
	if len(got) != 3 || got[0].Event != "phx_reply" || got[1].Event != presence.EventDiff || got[2].Event != presence.EventState {
		t.Fatalf("bob's join: want reply, diff, state, got %v", got)
	}
	if r := refs(metas(got[2].Payload, "alice")); !cmp.Equal(r, []string{aliceRef}) {
		t.Errorf("bob's state has alice %v, want [%s]", r, aliceRef)
	}
	bobRef := checkRef(t, metas(got[2].Payload, "bob")[0]["phx_ref"])

	got = alice.frames()
	if len(got) != 1 {
		t.Fatalf("alice got %v, want one diff", got)
	}
	d := got[0]
	if d.JoinRef != "null" || d.Ref != "null" || d.Event != presence.EventDiff || d.Topic != "room:1" {
		t.Fatalf("want [null,null,\"room:1\",\"presence_diff\",...], got %v", d)
	}
	want := map[string]any{
		"joins":  map[string]any{"bob": map[string]any{"metas": []any{map[string]any{"name": "Bob", "phx_ref": bobRef}}}},
		"leaves": map[string]any{},
	}
	if diff := cmp.Diff(want, d.Payload); diff != "" {
		t.Errorf("diff payload (-want +got):\n%s", diff)
	}
}

func TestDiffIsEncodedOnce(t *testing.T) {
	w := newWorld(t)
	a, b, c := w.connect(), w.connect(), w.connect()
	a.join("room:1", `{"key":"a"}`)
	b.join("room:1", `{"key":"b"}`)
	a.tr.Take()
	b.tr.Take()
	c.join("room:1", `{"key":"c"}`)
	fa, fb := a.tr.Take(), b.tr.Take()
	if len(fa) != 1 || len(fb) != 1 {
		t.Fatalf("want one diff each, got %d and %d frames", len(fa), len(fb))
	}
	if &fa[0].Data[0] != &fb[0].Data[0] {
		t.Errorf("the two members got separately encoded diffs; want the same bytes")
	}
}

func TestSameKeyFromTwoSocketsHasTwoMetasInTrackOrder(t *testing.T) {
	w := newWorld(t)
	tab1, tab2, observer := w.connect(), w.connect(), w.connect()
	tab1.join("room:1", `{"key":"alice","meta":{"tab":1}}`)
	tab2.join("room:1", `{"key":"alice","meta":{"tab":2}}`)
	observer.join("room:1", `{"notrack":true}`)
	got := observer.frames()
	ms := metas(got[1].Payload, "alice")
	if len(ms) != 2 || ms[0]["tab"] != 1.0 || ms[1]["tab"] != 2.0 {
		t.Fatalf("state %v: want alice with tab 1 then tab 2", got[1].Payload)
	}
	if ms[0]["phx_ref"] == ms[1]["phx_ref"] {
		t.Errorf("two metas share phx_ref %v", ms[0]["phx_ref"])
	}
	// tab1 saw tab2's join as a diff for the same key.
	d := tab1.frames()
	if len(d) != 4 || d[3].Event != presence.EventDiff || len(metas(d[3].Payload["joins"], "alice")) != 1 {
		t.Errorf("tab1 got %v; want reply, diff, state, diff joining alice's second meta", d)
	}
}

func TestUpdateSendsPrevRefAndOneDiff(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.connect(), w.connect()
	alice.join("room:1", `{"key":"alice","meta":{"status":"online"}}`)
	oldRef := metas(stateIn(t, alice.frames()), "alice")[0]["phx_ref"].(string)
	bob.join("room:1", `{"key":"bob"}`)
	bob.frames()
	alice.frames()

	alice.send("1", "room:1", "update", `{"meta":{"status":"away"}}`)
	// The diff goes through the PubSub while HandleIn runs, so it precedes
	// the reply, as a fastlane broadcast does in Phoenix.
	if got := alice.frames(); len(got) != 2 || got[0].Event != presence.EventDiff || got[1].Event != "phx_reply" {
		t.Fatalf("alice got %v, want the diff and her reply", got)
	}
	got := bob.frames()
	if len(got) != 1 || got[0].Event != presence.EventDiff {
		t.Fatalf("bob got %v, want one diff", got)
	}
	joins, leaves := metas(got[0].Payload["joins"], "alice"), metas(got[0].Payload["leaves"], "alice")
	if len(joins) != 1 || len(leaves) != 1 {
		t.Fatalf("diff %v: want alice in joins and leaves", got[0].Payload)
	}
	newRef := checkRef(t, joins[0]["phx_ref"])
	wantJoin := map[string]any{"status": "away", "phx_ref": newRef, "phx_ref_prev": oldRef}
	wantLeave := map[string]any{"status": "online", "phx_ref": oldRef}
	if diff := cmp.Diff(wantJoin, joins[0]); diff != "" || newRef == oldRef {
		t.Errorf("joined meta (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLeave, leaves[0]); diff != "" {
		t.Errorf("left meta (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"alice": {newRef}, "bob": refs(metas(decodeState(t, w.p.List("room:1")), "bob"))}, stateRefs(t, w.p.List("room:1"))); diff != "" {
		t.Errorf("List after update (-want +got):\n%s", diff)
	}
}

// leaves checks that c got exactly one diff with key left and nothing joined.
func checkLeave(t *testing.T, c *client, key string) {
	t.Helper()
	got := c.frames()
	if len(got) != 1 || got[0].Event != presence.EventDiff || got[0].JoinRef != "null" {
		t.Fatalf("got %v, want one presence_diff broadcast", got)
	}
	if j := got[0].Payload["joins"].(map[string]any); len(j) != 0 {
		t.Errorf("joins %v, want none", j)
	}
	if l := metas(got[0].Payload["leaves"], key); len(l) != 1 {
		t.Errorf("leaves %v, want %s", got[0].Payload["leaves"], key)
	}
}

func TestLeaveBroadcastsLeaves(t *testing.T) {
	for _, topic := range []string{"room:1", "manual:1"} {
		t.Run(topic, func(t *testing.T) {
			w := newWorld(t)
			alice, bob := w.connect(), w.connect()
			alice.join(topic, `{"key":"alice"}`)
			bob.join(topic, `{"key":"bob"}`)
			alice.frames()
			bob.send("1", topic, channels.EventLeave, `{}`)
			checkLeave(t, alice, "bob")
			if got := string(w.p.List(topic)); got == "{}" || len(stateRefs(t, w.p.List(topic))) != 1 {
				t.Errorf("List %s, want alice only", got)
			}
		})
	}
}

func TestUntrackBroadcastsLeaves(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.connect(), w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	bob.join("room:1", `{"key":"bob"}`)
	alice.frames()
	bob.send("1", "room:1", "untrack", `{}`)
	checkLeave(t, alice, "bob")
	// Untracking again is a no-op without a diff.
	bob.send("1", "room:1", "untrack", `{}`)
	if got := alice.frames(); len(got) != 0 {
		t.Errorf("second untrack sent %v", got)
	}
}

func TestConnectionDropBroadcastsLeaves(t *testing.T) {
	for _, topic := range []string{"room:1", "manual:1"} {
		t.Run(topic, func(t *testing.T) {
			w := newWorld(t)
			alice, bob := w.connect(), w.connect()
			alice.join(topic, `{"key":"alice"}`)
			bob.join(topic, `{"key":"bob"}`)
			alice.frames()
			bob.mux.Close()
			checkLeave(t, alice, "bob")
			alice.mux.Close()
			if got := string(w.p.List(topic)); got != "{}" {
				t.Errorf("List after everyone left: %s, want {}", got)
			}
		})
	}
}

func TestDuplicateJoinReplacesPresence(t *testing.T) {
	w := newWorld(t)
	alice, bob := w.connect(), w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	bob.join("room:1", `{"key":"bob"}`)
	oldRef := metas(stateIn(t, bob.frames()), "bob")[0]["phx_ref"]
	alice.frames()

	jr := bob.join("room:1", `{"key":"bob"}`)
	got := bob.frames()
	// New reply, phx_close of the old join, then, from AfterJoin, the diff
	// of the new track and the state with the new join_ref. The old
	// presence's leave is not among them: the old channel was unsubscribed
	// before it ended.
	if len(got) != 4 || got[0].Event != "phx_reply" || got[1].Event != channels.EventClose || got[2].Event != presence.EventDiff || got[3].Event != presence.EventState {
		t.Fatalf("bob got %v", got)
	}
	if got[3].JoinRef != fmt.Sprintf("%q", jr) {
		t.Errorf("state stamped %s, want the new join_ref %q", got[3].JoinRef, jr)
	}
	newRefs := refs(metas(got[3].Payload, "bob"))
	if len(newRefs) != 1 || newRefs[0] == oldRef {
		t.Errorf("bob in the new state %v, want one new meta (old %v)", newRefs, oldRef)
	}
	// Alice saw the old presence leave, then the new one join.
	d := alice.frames()
	if len(d) != 2 || len(metas(d[0].Payload["leaves"], "bob")) != 1 || len(metas(d[1].Payload["joins"], "bob")) != 1 {
		t.Errorf("alice got %v, want bob's leave then join", d)
	}
}

func TestRefusedOrCrashedJoinUntracks(t *testing.T) {
	tests := []struct {
		topic, payload string
		xGets          []string // events x's client gets
	}{
		{"room:1", `{"key":"x","refuse":true}`, []string{"phx_reply"}},
		{"room:1", `{"key":"x","crash":true}`, []string{"phx_reply"}},
		{"room:1", `{"key":"x","crash_after":true}`, []string{"phx_reply", presence.EventDiff, channels.EventError}},
		{"manual:1", `{"key":"x","crash_after":true}`, []string{"phx_reply", presence.EventDiff, channels.EventError}},
	}
	for _, tt := range tests {
		t.Run(tt.topic+tt.payload, func(t *testing.T) {
			w := newWorld(t)
			alice, x := w.connect(), w.connect()
			alice.join(tt.topic, `{"key":"alice"}`)
			alice.frames()
			x.join(tt.topic, tt.payload)
			var events []string
			for _, f := range x.frames() {
				events = append(events, f.Event)
			}
			if !cmp.Equal(events, tt.xGets) {
				t.Fatalf("x got %v, want %v", events, tt.xGets)
			}
			got := alice.frames()
			if len(got) != 2 || len(metas(got[0].Payload["joins"], "x")) != 1 || len(metas(got[1].Payload["leaves"], "x")) != 1 {
				t.Errorf("alice got %v, want x's join then leave", got)
			}
			if _, ok := stateRefs(t, w.p.List(tt.topic))["x"]; ok {
				t.Errorf("x still listed: %s", w.p.List(tt.topic))
			}
		})
	}
}

func TestListKeepsTrackOrder(t *testing.T) {
	w := newWorld(t)
	var cs []*client
	for i := range 4 {
		c := w.connect()
		c.join("room:1", fmt.Sprintf(`{"key":"k","meta":{"n":%d}}`, i))
		cs = append(cs, c)
	}
	c := w.connect()
	c.join("room:1", `{"key":"other"}`)
	cs[1].mux.Close()
	st := decodeState(t, w.p.List("room:1"))
	var ns []float64
	for _, m := range metas(st, "k") {
		ns = append(ns, m["n"].(float64))
	}
	if !cmp.Equal(ns, []float64{0, 2, 3}) {
		t.Errorf("metas of k in order %v, want [0 2 3]", ns)
	}
	if len(metas(st, "other")) != 1 {
		t.Errorf("state %v lacks other", st)
	}
	// An updated meta moves to the end, as on every client.
	cs[0].send("1", "room:1", "update", `{"meta":{"n":9}}`)
	ns = nil
	for _, m := range metas(decodeState(t, w.p.List("room:1")), "k") {
		ns = append(ns, m["n"].(float64))
	}
	if !cmp.Equal(ns, []float64{2, 3, 9}) {
		t.Errorf("after update: %v, want [2 3 9]", ns)
	}
}

// TestListAfterChanges checks the cached state against every kind of
// change: new keys are appended to it, other changes rebuild it.
func TestListAfterChanges(t *testing.T) {
	w := newWorld(t)
	if got := string(w.p.List("room:none")); got != "{}" {
		t.Errorf("List of an empty topic: %s", got)
	}
	a, b, c := w.connect(), w.connect(), w.connect()
	a.join("room:1", `{"key":"a","meta":{"v":1}}`)
	l1 := w.p.List("room:1")
	b.join("room:1", `{"key":"b"}`)
	c.join("room:1", `{"key":"a","meta":{"v":2}}`)
	// A List result is never modified by later changes.
	if st := stateRefs(t, l1); len(st) != 1 || len(st["a"]) != 1 {
		t.Errorf("earlier List result changed to %s", l1)
	}
	check := func(want map[string][]float64) {
		t.Helper()
		st := decodeState(t, w.p.List("room:1"))
		got := map[string][]float64{}
		for key := range st {
			for _, m := range metas(st, key) {
				v, _ := m["v"].(float64)
				got[key] = append(got[key], v)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List (-want +got):\n%s", diff)
		}
	}
	check(map[string][]float64{"a": {1, 2}, "b": {0}})
	a.send("1", "room:1", "update", `{"meta":{"v":3}}`)
	check(map[string][]float64{"a": {2, 3}, "b": {0}})
	b.mux.Close()
	check(map[string][]float64{"a": {2, 3}})
	w.connect().join("room:1", `{"key":"d","meta":{"v":4}}`)
	w.connect().join("room:1", `{"key":"e","meta":{"v":5}}`)
	check(map[string][]float64{"a": {2, 3}, "d": {4}, "e": {5}})
	l2 := w.p.List("room:1")
	if l3 := w.p.List("room:1"); &l2[0] != &l3[0] {
		t.Errorf("unchanged state encoded twice")
	}
	w.connect().join("room:1", `{"key":"f","meta":{"v":6}}`)
	if st := stateRefs(t, l2); len(st) != 3 {
		t.Errorf("earlier List result changed to %s", l2)
	}
	check(map[string][]float64{"a": {2, 3}, "d": {4}, "e": {5}, "f": {6}})
	// The state pushed to a joiner is the same.
	e := w.connect()
	e.join("room:1", `{"notrack":true}`)
	got := e.frames()
	if diff := cmp.Diff(decodeState(t, w.p.List("room:1")), got[1].Payload); diff != "" {
		t.Errorf("pushed state differs from List (-List +pushed):\n%s", diff)
	}
}

func TestMeta(t *testing.T) {
	w := newWorld(t)
	w.connect().join("room:1", `{"notrack":true}`)
	s := w.lastSocket()
	tests := []struct {
		meta string
		want map[string]any // without phx_ref
		err  bool
	}{
		{``, map[string]any{}, false},
		{`{}`, map[string]any{}, false},
		{` { "a" : [1, 2] ,"b":{"c":null} } `, map[string]any{"a": []any{1.0, 2.0}, "b": map[string]any{"c": nil}}, false},
		{`{"phx_ref":"forged","phx_ref_prev":"x","k":"v"}`, map[string]any{"k": "v"}, false},
		{`{"phx\u005fref":"forged"}`, map[string]any{}, false},
		{`{"note":"phx_ref"}`, map[string]any{"note": "phx_ref"}, false},
		{`[1]`, nil, true},
		{`"s"`, nil, true},
		{`null`, nil, true},
		{`{"a":`, nil, true},
	}
	for i, tt := range tests {
		key := fmt.Sprint(i)
		err := w.p.Track(s, key, json.RawMessage(tt.meta))
		if tt.err {
			if err == nil {
				t.Errorf("meta %s: accepted, want an error", tt.meta)
			}
			continue
		}
		if err != nil {
			t.Errorf("meta %s: %v", tt.meta, err)
			continue
		}
		raw := w.p.List("room:1")
		m := metas(decodeState(t, raw), key)[0]
		checkRef(t, m["phx_ref"])
		delete(m, "phx_ref")
		if diff := cmp.Diff(tt.want, m); diff != "" {
			t.Errorf("meta %s (-want +got):\n%s", tt.meta, diff)
		}
	}
	if err := w.p.Track(s, `"1"`, json.RawMessage(`[1]`)); !errors.Is(err, presence.ErrMetaNotObject) {
		t.Errorf("array meta: %v, want ErrMetaNotObject", err)
	}
	// Keys needing escapes survive.
	if err := w.p.Track(s, "é\"<\n", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := decodeState(t, w.p.List("room:1"))["é\"<\n"]; !ok {
		t.Errorf("escaped key missing from %s", w.p.List("room:1"))
	}
}

func TestErrors(t *testing.T) {
	w := newWorld(t)
	w.connect().join("room:1", `{"key":"a"}`)
	s := w.lastSocket()
	if err := w.p.Track(s, "a", nil); !errors.Is(err, presence.ErrAlreadyTracked) {
		t.Errorf("second Track: %v, want ErrAlreadyTracked", err)
	}
	if err := w.p.Update(s, "b", nil); !errors.Is(err, presence.ErrNotTracked) {
		t.Errorf("Update of an untracked key: %v, want ErrNotTracked", err)
	}
	if err := w.p.Untrack(s, "b"); err != nil {
		t.Errorf("Untrack of an untracked key: %v", err)
	}
	if err := w.p.Update(s, "a", json.RawMessage(`1`)); err == nil {
		t.Errorf("Update with a number meta accepted")
	}
	if err := w.p.UntrackAll(s); err != nil {
		t.Fatal(err)
	}
	if err := w.p.UntrackAll(s); err != nil {
		t.Errorf("second UntrackAll: %v", err)
	}
	if err := w.p.Update(s, "a", nil); !errors.Is(err, presence.ErrNotTracked) {
		t.Errorf("Update after UntrackAll: %v, want ErrNotTracked", err)
	}
}

func TestPhxRefsAreUnique(t *testing.T) {
	w := newWorld(t)
	w.connect().join("room:1", `{"notrack":true}`)
	s := w.lastSocket()
	const n = 10_000
	for i := range n {
		if err := w.p.Track(s, fmt.Sprint(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[string]bool, n)
	st := decodeState(t, w.p.List("room:1"))
	for key := range st {
		r := checkRef(t, metas(st, key)[0]["phx_ref"])
		if seen[r] {
			t.Fatalf("phx_ref %s repeated", r)
		}
		seen[r] = true
	}
	if len(seen) != n {
		t.Fatalf("%d refs, want %d", len(seen), n)
	}
	if err := w.p.UntrackAll(s); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentTrackUntrack races Track, Update, Untrack, List and
// PushState on shared topics; run it with -race.
func TestConcurrentTrackUntrack(t *testing.T) {
	w := newWorld(t)
	const conns, rounds = 16, 200
	var socks []*channels.Socket
	for i := range conns {
		w.connect().join(fmt.Sprintf("manual:%d", i%2), `{"notrack":true}`)
		socks = append(socks, w.lastSocket())
	}
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Go(func() {
			for r := range rounds {
				key := fmt.Sprint("k", r%3)
				if err := w.p.Track(s, key, json.RawMessage(fmt.Sprintf(`{"c":%d}`, i))); err != nil {
					t.Error(err)
					return
				}
				_ = w.p.Update(s, key, json.RawMessage(`{"u":1}`))
				_ = w.p.List(s.Topic())
				_ = w.p.PushState(s)
				if r%2 == 0 {
					_ = w.p.Untrack(s, key)
				} else {
					_ = w.p.UntrackAll(s)
				}
			}
			if i%2 == 0 {
				_ = w.p.Track(s, "final", nil)
			}
		})
	}
	wg.Wait()
	for _, topic := range []string{"manual:0", "manual:1"} {
		st := stateRefs(t, w.p.List(topic))
		want := 0
		if topic == "manual:0" {
			want = conns / 2
		}
		if len(st["final"]) != want || len(st) > 1 {
			t.Errorf("%s: state %v, want %d metas under final only", topic, st, want)
		}
	}
}

// TestConcurrentJoinsConverge joins, updates and drops connections
// concurrently, then replays what each remaining client received as
// phoenix.js's Presence does: every client must end with exactly the
// server's List, no member lost or left over. Tracking and PushState run
// in AfterJoin, with the socket subscribed, so a change made by another
// connection while a socket joins reaches it in the state or as a diff;
// a presence may be announced in both (phoenix.js matches it by phx_ref),
// never more.
func TestConcurrentJoinsConverge(t *testing.T) {
	for range 8 {
		w := newWorld(t)
		const n = 48
		clients := make([]*client, n)
		var wg sync.WaitGroup
		for i := range n {
			clients[i] = w.connect()
			wg.Go(func() {
				c := clients[i]
				c.join("room:c", fmt.Sprintf(`{"key":"u%d","meta":{"i":%d}}`, i%20, i))
				if i%3 == 0 {
					c.send("1", "room:c", "update", `{"meta":{"away":true}}`)
				}
				if i%5 == 0 {
					c.mux.Close()
				}
			})
		}
		wg.Wait()
		want := stateRefs(t, w.p.List("room:c"))
		for i, c := range clients {
			if i%5 == 0 {
				continue
			}
			v := newView(`"1"`)
			for _, f := range c.frames() {
				v.apply(f)
			}
			if !v.synced {
				t.Fatalf("client %d never got presence_state", i)
			}
			if diff := cmp.Diff(want, v.state); diff != "" {
				t.Fatalf("client %d's view differs from List (-List +view):\n%s", i, diff)
			}
			for r, k := range maps.All(v.seenRefs) {
				if k > 2 {
					t.Fatalf("client %d was told of %s %d times, want once or twice (state and diff)", i, r, k)
				}
			}
		}
	}
}

// filteringRoom is a room that drops "secret" broadcasts.
type filteringRoom struct{ room }

func (*filteringRoom) FilterBroadcast(_ *channels.Socket, b *pubsub.Broadcast) bool {
	return b.Event != "secret"
}

func TestWrapForwardsOnlyTheInterfacesTheChannelHas(t *testing.T) {
	w := newWorld(t)
	plain := w.p.Wrap(func(string) channels.Channel { return &room{p: w.p, w: w} })("room:1")
	if _, ok := plain.(channels.Filter); ok {
		t.Errorf("a wrapped channel without a filter is a channels.Filter: the Mux would call it on every broadcast")
	}
	filtering := w.p.Wrap(func(string) channels.Channel { return &filteringRoom{room{p: w.p, w: w}} })("room:1")
	if _, ok := filtering.(channels.Filter); !ok {
		t.Errorf("a wrapped channel with a filter lost it")
	}
	if _, ok := plain.(channels.AfterJoiner); !ok {
		t.Errorf("a wrapped channel with AfterJoin lost it")
	}
}

func TestWrapKeepsTheChannelsFilter(t *testing.T) {
	w := newWorld(t)
	w.router.Handle("filtered:*", w.p.Wrap(func(string) channels.Channel { return &filteringRoom{room{p: w.p, w: w}} }))
	a, b := w.connect(), w.connect()
	a.join("filtered:1", `{"key":"a"}`)
	a.frames()
	_ = w.ps.Publish(pubsub.NewBroadcast("filtered:1", "secret", []byte(`{}`)))
	_ = w.ps.Publish(pubsub.NewBroadcast("filtered:1", "public", []byte(`{}`)))
	b.join("filtered:1", `{"key":"b"}`)
	got := a.frames()
	if len(got) != 2 || got[0].Event != "public" || got[1].Event != presence.EventDiff {
		t.Errorf("got %v, want public then the diff", got)
	}
}
