package presence_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// fakeCluster is a presence.Cluster on one pubsub.Local: what "other
// nodes" store is the snapshot Load returns, their diffs are broadcasts
// the test publishes with a nil Meta, as a cluster PubSub delivers them.
type fakeCluster struct {
	ps *pubsub.Local

	mu      sync.Mutex
	changes []presence.Change
	local   int // PublishLocal calls
	members []presence.Member
	retry   time.Duration
	err     error
	loads   int
	gate    chan struct{} // if set, Load waits for it
}

func (f *fakeCluster) Publish(b *pubsub.Broadcast, c presence.Change) error {
	f.mu.Lock()
	f.changes = append(f.changes, c)
	f.mu.Unlock()
	if b == nil {
		return nil
	}
	return f.ps.Publish(b)
}

func (f *fakeCluster) PublishLocal(b *pubsub.Broadcast) error {
	f.mu.Lock()
	f.local++
	f.mu.Unlock()
	return f.ps.Publish(b)
}

func (f *fakeCluster) Load(ctx context.Context, _ string) (presence.Snapshot, error) {
	f.mu.Lock()
	gate := f.gate
	f.loads++
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return presence.Snapshot{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return presence.Snapshot{Members: slices.Clone(f.members), RetryAfter: f.retry}, f.err
}

// set makes what Load returns.
func (f *fakeCluster) set(retry time.Duration, err error, ms ...presence.Member) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members, f.retry, f.err = ms, retry, err
}

func (f *fakeCluster) loaded() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads
}

func newClusterWorld(t *testing.T) (*world, *fakeCluster, *presence.Replication) {
	var fc *fakeCluster
	var repl *presence.Replication
	w := newWorldWith(t, func(w *world) {
		fc = &fakeCluster{ps: w.ps}
		repl = w.p.SetCluster(fc)
	})
	return w, fc, repl
}

// remoteRef returns a phx_ref of another node, ordered by n.
func remoteRef(n int) string { return fmt.Sprintf("RRRRRRRRRRRR%04d", n) }

func remote(key string, n int) presence.Member {
	return presence.Member{Key: key, Ref: remoteRef(n), Meta: []byte(fmt.Sprintf(`{"n":%d,"phx_ref":%q}`, n, remoteRef(n)))}
}

// remoteDiff publishes a presence_diff of another node.
func remoteDiff(w *world, topic string, joins, leaves []presence.Member) {
	side := func(ms []presence.Member) string {
		out := "{"
		for i, m := range ms {
			if i > 0 {
				out += ","
			}
			out += fmt.Sprintf(`%q:{"metas":[%s]}`, m.Key, m.Meta)
		}
		return out + "}"
	}
	_ = w.ps.Publish(pubsub.NewBroadcast(topic, presence.EventDiff, []byte(`{"joins":`+side(joins)+`,"leaves":`+side(leaves)+`}`)))
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The first member's state holds the other nodes' presences; their diffs
// update it; leaves of unknown refs and of this node's own presences are
// ignored.
func TestClusterStateHoldsOtherNodes(t *testing.T) {
	w, fc, _ := newClusterWorld(t)
	fc.set(0, nil, remote("bob", 2), remote("bob", 1), remote("carol", 3))
	alice := w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	st := stateIn(t, alice.frames())
	want := map[string][]string{"alice": nil, "bob": {remoteRef(1), remoteRef(2)}, "carol": {remoteRef(3)}}
	got := map[string][]string{}
	for key := range st {
		got[key] = refs(metas(st, key))
	}
	want["alice"] = got["alice"]
	if diff := cmp.Diff(want, got); diff != "" || len(got["alice"]) != 1 {
		t.Fatalf("state (-want +got):\n%s", diff)
	}
	aliceRef := got["alice"][0]

	remoteDiff(w, "room:1", []presence.Member{remote("dave", 4)}, []presence.Member{remote("bob", 1), remote("nobody", 9)})
	remoteDiff(w, "room:1", nil, []presence.Member{{Key: "alice", Ref: aliceRef, Meta: []byte(fmt.Sprintf(`{"phx_ref":%q}`, aliceRef))}})
	list := stateRefs(t, w.p.List("room:1"))
	want = map[string][]string{"alice": {aliceRef}, "bob": {remoteRef(2)}, "carol": {remoteRef(3)}, "dave": {remoteRef(4)}}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("List after remote diffs (-want +got):\n%s", diff)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.changes) != 1 || len(fc.changes[0].Joins) != 1 || fc.changes[0].Joins[0].Ref != aliceRef || fc.changes[0].Topic != "room:1" {
		t.Errorf("changes stored %+v; want alice's join", fc.changes)
	}
}

// Diffs that arrive while the snapshot is read apply to it: a presence
// that joined and left meanwhile is not shown even if the snapshot has it,
// and one that joined after the snapshot is.
func TestClusterDiffsDuringLoadApplyToSnapshot(t *testing.T) {
	w, fc, _ := newClusterWorld(t)
	gate := make(chan struct{})
	fc.gate = gate
	fc.set(0, nil, remote("x", 1), remote("old", 2))
	alice := w.connect()
	done := make(chan struct{})
	go func() {
		defer close(done)
		alice.join("room:1", `{"key":"alice"}`) // PushState waits for the load
	}()
	waitUntil(t, "the load", func() bool { return fc.loaded() == 1 })
	remoteDiff(w, "room:1", []presence.Member{remote("x", 1)}, nil) // in the snapshot too
	remoteDiff(w, "room:1", nil, []presence.Member{remote("x", 1)})
	remoteDiff(w, "room:1", []presence.Member{remote("y", 5)}, nil)
	close(gate)
	<-done
	st := stateIn(t, alice.frames())
	if _, ok := st["x"]; ok {
		t.Errorf("state %v shows x, who left during the load", st)
	}
	if _, ok := st["y"]; !ok {
		t.Errorf("state %v misses y, who joined during the load", st)
	}
	if _, ok := st["old"]; !ok {
		t.Errorf("state %v misses old, from the snapshot", st)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.local != 0 {
		t.Errorf("%d local diffs after a first load no client had seen; want none", fc.local)
	}
}

// Reload (after an outage) delivers to this node's clients one diff with
// what the store changed meanwhile, and a client replaying it as
// phoenix.js does ends with the store's presences.
func TestClusterReloadDeliversWhatWasMissed(t *testing.T) {
	w, fc, repl := newClusterWorld(t)
	fc.set(0, nil, remote("bob", 1), remote("carol", 2))
	alice := w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	fs := alice.frames()
	v := newView(`"1"`)
	for _, f := range fs {
		v.apply(f)
	}
	fc.set(0, nil, remote("carol", 2), remote("dan", 3))
	repl.Reload()
	waitUntil(t, "the reload's diff", func() bool { return alice.tr.Len() > 0 })
	fs = alice.frames()
	if len(fs) != 1 || fs[0].Event != presence.EventDiff {
		t.Fatalf("after Reload alice got %v; want one presence_diff", fs)
	}
	d := fs[0].Payload
	if len(metas(d["joins"], "dan")) != 1 || len(metas(d["leaves"], "bob")) != 1 || len(d["joins"].(map[string]any)) != 1 || len(d["leaves"].(map[string]any)) != 1 {
		t.Errorf("reload diff %v; want dan joined and bob left", d)
	}
	v.apply(fs[0])
	want := stateRefs(t, w.p.List("room:1"))
	if diff := cmp.Diff(want, v.state); diff != "" {
		t.Errorf("client view vs List (-list +view):\n%s", diff)
	}
	if _, ok := want["bob"]; ok {
		t.Errorf("List %v still has bob", want)
	}
}

// A load that says the store may be incomplete adds but removes nothing,
// and the Presence loads again after RetryAfter.
func TestClusterUnsettledLoadOnlyAdds(t *testing.T) {
	w, fc, repl := newClusterWorld(t)
	fc.set(0, nil, remote("bob", 1))
	alice := w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	v := newView(`"1"`)
	for _, f := range alice.frames() {
		v.apply(f)
	}
	fc.set(100*time.Millisecond, nil, remote("carol", 2))
	repl.Reload()
	waitUntil(t, "carol", func() bool { _, ok := stateRefs(t, w.p.List("room:1"))["carol"]; return ok })
	if _, ok := stateRefs(t, w.p.List("room:1"))["bob"]; !ok {
		t.Fatalf("an unsettled load removed bob")
	}
	fc.set(0, nil, remote("carol", 2))
	waitUntil(t, "bob to go on the retry", func() bool { _, ok := stateRefs(t, w.p.List("room:1"))["bob"]; return !ok })
	for _, f := range alice.frames() {
		v.apply(f)
	}
	if diff := cmp.Diff(stateRefs(t, w.p.List("room:1")), v.state); diff != "" {
		t.Errorf("client view vs List (-list +view):\n%s", diff)
	}
}

// When the load fails, PushState pushes this node's presences, and those
// of the other nodes follow as a diff once a retry succeeds.
func TestClusterFailedLoadFollowsAsDiff(t *testing.T) {
	w, fc, _ := newClusterWorld(t)
	fc.set(0, errors.New("redis down"))
	alice := w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	st := stateIn(t, alice.frames())
	if len(st) != 1 {
		t.Fatalf("state %v; want alice only", st)
	}
	fc.set(0, nil, remote("bob", 1))
	waitUntil(t, "the retry's diff", func() bool { return alice.tr.Len() > 0 })
	fs := alice.frames()
	if len(fs) != 1 || len(metas(fs[0].Payload["joins"], "bob")) != 1 {
		t.Errorf("after the retry alice got %v; want a diff joining bob", fs)
	}
}

// A resync joins a presence whose leave another node publishes at the
// same time: the leave is delivered again, so that a socket that got the
// two in the wrong order does not keep it.
func TestClusterLeaveOfResyncedJoinIsRepeated(t *testing.T) {
	w, fc, repl := newClusterWorld(t)
	alice := w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	alice.frames()
	fc.set(0, nil, remote("bob", 1))
	repl.Reload()
	waitUntil(t, "the reload's diff", func() bool { return alice.tr.Len() > 0 })
	alice.frames()
	remoteDiff(w, "room:1", nil, []presence.Member{remote("bob", 1)})
	waitUntil(t, "the repeated leave", func() bool { return alice.tr.Len() >= 2 })
	fs := alice.frames()
	for _, f := range fs {
		if f.Event != presence.EventDiff || len(metas(f.Payload["leaves"], "bob")) != 1 {
			t.Errorf("got %v; want bob's leave, twice", f)
		}
	}
}

// NodeDown removes a dead node's presences and publishes them as leaves,
// grouped by key, with a Change of that node.
func TestClusterNodeDown(t *testing.T) {
	w, fc, repl := newClusterWorld(t)
	fc.set(0, nil, remote("bob", 1), remote("bob", 2), remote("carol", 3))
	alice := w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	alice.frames()
	if err := repl.NodeDown("deadnode", "room:1", []presence.Member{remote("bob", 2), remote("bob", 1)}); err != nil {
		t.Fatal(err)
	}
	fs := alice.frames()
	if len(fs) != 1 || !slices.Equal(refs(metas(fs[0].Payload["leaves"], "bob")), []string{remoteRef(1), remoteRef(2)}) {
		t.Fatalf("alice got %v; want one diff with both of bob's metas in leaves", fs)
	}
	if got := stateRefs(t, w.p.List("room:1")); len(got) != 2 || got["carol"] == nil {
		t.Errorf("List %v; want alice and carol", got)
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	last := fc.changes[len(fc.changes)-1]
	if last.Node != "deadnode" || len(last.Leaves) != 2 || !last.Empty {
		t.Errorf("change %+v; want the dead node's two presences removed", last)
	}
}

// Rewrite stores every presence of this node again, announced or not;
// Leave untracks them all, and UntrackAll then has nothing to do.
func TestClusterRewriteAndLeave(t *testing.T) {
	w, fc, repl := newClusterWorld(t)
	alice, bob := w.connect(), w.connect()
	alice.join("room:1", `{"key":"alice"}`)
	bob.join("room:2", `{"key":"bob"}`)
	alice.frames()
	fc.mu.Lock()
	fc.changes = nil
	fc.mu.Unlock()
	if err := repl.Rewrite(false); err != nil {
		t.Fatal(err)
	}
	if fs := alice.frames(); len(fs) != 0 {
		t.Errorf("a silent rewrite sent %v", fs)
	}
	if err := repl.Rewrite(true); err != nil {
		t.Fatal(err)
	}
	if fs := alice.frames(); len(fs) != 1 || len(metas(fs[0].Payload["joins"], "alice")) != 1 {
		t.Errorf("an announced rewrite sent %v; want alice's join", fs)
	}
	fc.mu.Lock()
	if n := len(fc.changes); n != 4 {
		t.Errorf("%d changes stored by two rewrites of two topics, want 4", n)
	}
	fc.changes = nil
	fc.mu.Unlock()
	if err := repl.Leave(); err != nil {
		t.Fatal(err)
	}
	if fs := alice.frames(); len(fs) != 1 || len(metas(fs[0].Payload["leaves"], "alice")) != 1 {
		t.Errorf("Leave sent %v; want alice's leave", fs)
	}
	alice.send("1", "room:1", "phx_leave", `{}`)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if len(fc.changes) != 2 || !fc.changes[0].Empty || !fc.changes[1].Empty {
		t.Errorf("changes %+v; want one leave per topic, each emptying it, and none after", fc.changes)
	}
}
