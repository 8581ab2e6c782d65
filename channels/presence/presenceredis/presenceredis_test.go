package presenceredis_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const converged = 5 * time.Second

// A member's presence_state lists the members of every node, including
// those who joined on other nodes before it (a late joiner on a third
// node); every client and every node's List end up with the same members.
func TestStateListsMembersOfEveryNode(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b, c := newNode(t, "A", addr, redis.Config{}), newNode(t, "B", addr, redis.Config{}), newNode(t, "C", addr, redis.Config{})
	alice, bob := a.connect("alice"), b.connect("bob")
	alice.join("room:1", `{"key":"alice","meta":{"node":"A"}}`)
	bob.join("room:1", `{"key":"bob","meta":{"node":"B"}}`)
	converge(t, converged, []string{"alice", "bob"}, alice, bob)

	carol := c.connect("carol")
	carol.join("room:1", `{"key":"carol","meta":{"node":"C"}}`)
	states := carol.states()
	if len(states) != 1 {
		t.Fatalf("carol got %d presence_state pushes after her join returned, want 1", len(states))
	}
	if got := sortedKeys(states[0]); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
		t.Fatalf("carol's presence_state lists %v, want alice (node A), bob (node B) and carol", got)
	}
	for key, node := range map[string]string{"alice": "A", "bob": "B", "carol": "C"} {
		ms := states[0][key].Metas
		if len(ms) != 1 || ms[0]["node"] != node {
			t.Errorf("carol's state has %s with metas %v, want one with node %s", key, ms, node)
		}
	}
	converge(t, converged, []string{"alice", "bob", "carol"}, alice, bob, carol)
	for _, n := range []*node{a, b, c} {
		if got := sortedKeys(listed(t, n, "room:1")); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
			t.Errorf("node %s lists %v", n.name, got)
		}
	}

	// bob, the only member on B, leaves: gone everywhere, and node B
	// forgets the topic.
	bob.leave()
	converge(t, converged, []string{"alice", "carol"}, alice, carol)
	// A client that joins on B without tracking (B has no member of the
	// topic now) still gets everyone, read from Redis.
	watcher := b.connect("watcher")
	watcher.join("room:1", `{"notrack":true}`)
	if got := watcher.keys(); !slices.Equal(got, []string{"alice", "carol"}) {
		t.Errorf("a non-tracking joiner on node B lists %v, want alice and carol", got)
	}
}

// Every change (join, update, leave) made on one node reaches the members
// on every node as exactly one presence_diff, the update with phx_ref_prev.
func TestDiffsReachEveryNodeOnce(t *testing.T) {
	addr := redistest.Start(t).Addr
	nodes := []*node{newNode(t, "A", addr, redis.Config{}), newNode(t, "B", addr, redis.Config{}), newNode(t, "C", addr, redis.Config{})}
	var obs []*client
	for i, n := range nodes {
		o := n.connect("obs" + n.name)
		o.join("room:x", fmt.Sprintf(`{"key":"obs%d"}`, i))
		obs = append(obs, o)
	}
	converge(t, converged, []string{"obs0", "obs1", "obs2"}, obs...)

	dave := nodes[0].connect("dave")
	dave.join("room:x", `{"key":"dave","meta":{"v":1}}`)
	converge(t, converged, []string{"dave", "obs0", "obs1", "obs2"}, obs...)
	first := obs[1].refsOf("dave")
	dave.send("update", `{"meta":{"v":2}}`)
	waitFor(t, converged, func() string { return "the update on every node" }, func() bool {
		for _, o := range obs {
			if r := o.refsOf("dave"); len(r) != 1 || r[0] == first[0] {
				return false
			}
		}
		return true
	})
	dave.leave()
	converge(t, converged, []string{"obs0", "obs1", "obs2"}, obs...)
	time.Sleep(300 * time.Millisecond) // time for a second copy to show up

	for _, o := range obs {
		var joins, leaves, updates int
		for _, d := range o.diffs() {
			j, l := d.Joins["dave"], d.Leaves["dave"]
			if len(j.Metas) > 0 {
				joins++
			}
			if len(l.Metas) > 0 {
				leaves++
			}
			if len(j.Metas) == 1 && len(l.Metas) == 1 {
				updates++
				if j.Metas[0]["phx_ref_prev"] != l.Metas[0]["phx_ref"] || j.Metas[0]["v"] != 2.0 {
					t.Errorf("%s: update diff %+v: want the new meta with phx_ref_prev of the old", o.name, d)
				}
			}
		}
		if joins != 2 || leaves != 2 || updates != 1 {
			t.Errorf("%s: dave in joins of %d diffs, leaves of %d, %d updates; want join, update, leave once each (2, 2, 1)", o.name, joins, leaves, updates)
		}
	}
}

// A node that dies without a goodbye (its Redis connection gone, as after
// kill -9) has its members leave every other node's list, with a
// presence_diff, within NodeDownAfter and a third of it, plus slack; and
// Redis no longer holds them.
func TestDeadNodesMembersLeaveEveryList(t *testing.T) {
	srv := redistest.Start(t)
	cfg := redis.Config{NodeDownAfter: 900 * time.Millisecond}
	a, b, c := newNode(t, "A", srv.Addr, cfg), newNode(t, "B", srv.Addr, cfg), newNode(t, "C", srv.Addr, cfg)
	obsA, obsB := a.connect("obsA"), b.connect("obsB")
	obsA.join("room:d", `{"key":"obsA"}`)
	obsB.join("room:d", `{"key":"obsB"}`)
	// Two tabs of one user and another user on C, and C also in a second
	// room that A watches.
	tab1, tab2, other := c.connect("tab1"), c.connect("tab2"), c.connect("other")
	tab1.join("room:d", `{"key":"victim","meta":{"tab":1}}`)
	tab2.join("room:d", `{"key":"victim","meta":{"tab":2}}`)
	other.join("room:d", `{"key":"victim2"}`)
	elsewhere, watch := c.connect("elsewhere"), a.connect("watch")
	elsewhere.join("room:e", `{"key":"victim3"}`)
	watch.join("room:e", `{"key":"watch"}`)
	converge(t, converged, []string{"obsA", "obsB", "victim", "victim2"}, obsA, obsB)
	converge(t, converged, []string{"victim3", "watch"}, watch)
	if n := len(obsA.refsOf("victim")); n != 2 {
		t.Fatalf("obsA lists %d metas for victim, want 2", n)
	}

	for _, n := range []*node{a, b, c} {
		n.waitMember()
	}
	killed := time.Now()
	c.kill()
	limit := cfg.NodeDownAfter + cfg.NodeDownAfter/3 + 1500*time.Millisecond
	converge(t, limit, []string{"obsA", "obsB"}, obsA, obsB)
	converge(t, limit, []string{"watch"}, watch)
	took := time.Since(killed)
	t.Logf("members of the dead node left every list %v after it died (NodeDownAfter %v)", took, cfg.NodeDownAfter)
	if took < cfg.NodeDownAfter/2 {
		t.Errorf("members left after %v, before the node could be taken for dead", took)
	}
	for _, o := range []*client{obsA, obsB} {
		n := 0
		for _, d := range o.diffs() {
			if l := d.Leaves["victim"]; len(l.Metas) > 0 {
				n++
				if len(l.Metas) != 2 || len(d.Leaves["victim2"].Metas) != 1 {
					t.Errorf("%s: leave diff %+v: want both of victim's metas and victim2's in one diff", o.name, d)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s got victim's leave in %d diffs, want 1", o.name, n)
		}
	}
	rc := a.client
	ctx := context.Background()
	for _, topic := range []string{"room:d", "room:e"} {
		fields, err := rc.HKeys(ctx, a.ps.Key("presence:"+topic)).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			if strings.HasPrefix(f, c.ps.NodeID()+":") {
				t.Errorf("redis still holds %s of the dead node in %s", f, topic)
			}
		}
	}
	if n, _ := rc.Exists(ctx, a.ps.Key("presence-topics:"+c.ps.NodeID())).Result(); n != 0 {
		t.Errorf("the dead node's topic set is still in redis")
	}
	// A late joiner sees only the living.
	late := b.connect("late")
	late.join("room:d", `{"key":"late"}`)
	if got := late.keys(); !slices.Equal(got, []string{"late", "obsA", "obsB"}) {
		t.Errorf("a late joiner lists %v", got)
	}
}

// A node that closes cleanly takes its members out of every list at once,
// not after NodeDownAfter.
func TestClosedNodesMembersLeaveAtOnce(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := newNode(t, "A", addr, redis.Config{}), newNode(t, "B", addr, redis.Config{})
	obs, gone := a.connect("obs"), b.connect("gone")
	obs.join("room:c", `{"key":"obs"}`)
	gone.join("room:c", `{"key":"gone"}`)
	converge(t, converged, []string{"gone", "obs"}, obs)
	start := time.Now()
	if err := b.cl.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.ps.Close(ctx); err != nil {
		t.Fatal(err)
	}
	converge(t, time.Second, []string{"obs"}, obs)
	t.Logf("left %v after Close", time.Since(start))
	if n, _ := a.client.HLen(ctx, a.ps.Key("presence:room:c")).Result(); n != 1 {
		t.Errorf("redis holds %d presences of room:c, want obs's only", n)
	}
}

// Redis restarts with no data: the nodes store their presences again, and
// every list converges to the true members, including changes made while
// Redis was down or right after.
func TestRedisRestartConverges(t *testing.T) {
	srv := redistest.Start(t)
	cfg := redis.Config{NodeDownAfter: 900 * time.Millisecond, StallAfter: 300 * time.Millisecond}
	a, b := newNode(t, "A", srv.Addr, cfg), newNode(t, "B", srv.Addr, cfg)
	alice, bob, bea := a.connect("alice"), b.connect("bob"), b.connect("bea")
	alice.join("room:r", `{"key":"alice"}`)
	bob.join("room:r", `{"key":"bob"}`)
	bea.join("room:r", `{"key":"bea"}`)
	converge(t, converged, []string{"alice", "bea", "bob"}, alice, bob, bea)
	a.waitMember()
	b.waitMember()

	srv.Stop()
	bob.leave() // while Redis is down
	time.Sleep(200 * time.Millisecond)
	srv.Restart()
	carol := a.connect("carol")
	carol.join("room:r", `{"key":"carol"}`)

	want := []string{"alice", "bea", "carol"}
	converge(t, 10*time.Second, want, alice, bea, carol)
	for _, n := range []*node{a, b} {
		waitFor(t, converged, func() string { return fmt.Sprintf("node %s lists %v", n.name, sortedKeys(listed(t, n, "room:r"))) },
			func() bool { return slices.Equal(sortedKeys(listed(t, n, "room:r")), want) })
	}
	waitFor(t, converged, func() string { return "redis to hold alice, bea and carol" }, func() bool {
		n, _ := a.client.HLen(context.Background(), a.ps.Key("presence:room:r")).Result()
		return n == 3
	})
	late := b.connect("late")
	late.join("room:r", `{"key":"late"}`)
	if got := late.keys(); !slices.Equal(got, []string{"alice", "bea", "carol", "late"}) {
		t.Errorf("a late joiner after the restart lists %v", got)
	}
}

// A node the others took for dead while it lived (a long pause) comes back
// with its members: they leave every list, then join again.
func TestNodeTakenForDeadAnnouncesItsMembersAgain(t *testing.T) {
	srv := redistest.Start(t)
	cfg := redis.Config{NodeDownAfter: 600 * time.Millisecond}
	a, b := newNode(t, "A", srv.Addr, cfg), newNode(t, "B", srv.Addr, cfg)
	obs, ann := a.connect("obs"), b.connect("ann")
	obs.join("room:p", `{"key":"obs"}`)
	ann.join("room:p", `{"key":"ann"}`)
	converge(t, converged, []string{"ann", "obs"}, obs, ann)
	a.waitMember()
	b.waitMember()

	// B's liveness key vanishes (as if B had not renewed it) until node A
	// takes B for dead: the key layout is the PubSub's (nodes.go).
	liveness := b.ps.Key("node:" + b.ps.NodeID())
	waitFor(t, 5*time.Second, func() string { return "node A to take node B for dead" }, func() bool {
		a.client.Del(context.Background(), liveness)
		return !slices.Contains(obs.keys(), "ann")
	})
	converge(t, converged, []string{"ann", "obs"}, obs, ann)
	late := a.connect("late")
	late.join("room:p", `{"key":"late"}`)
	if got := late.keys(); !slices.Equal(got, []string{"ann", "late", "obs"}) {
		t.Errorf("a late joiner lists %v after node B came back", got)
	}
}

// Members join and leave concurrently on two nodes while a third node's
// client joins: that client, replaying what it received as phoenix.js
// does, ends with exactly the true members, as does every node's List.
func TestConcurrentChurnConverges(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b, c := newNode(t, "A", addr, redis.Config{}), newNode(t, "B", addr, redis.Config{}), newNode(t, "C", addr, redis.Config{})
	const topic = "room:churn"
	type member struct {
		c       *client
		key     string
		present bool
	}
	var members []*member
	for i := range 12 {
		n := a
		if i%2 == 1 {
			n = b
		}
		key := fmt.Sprintf("%s%d", n.name, i)
		members = append(members, &member{c: n.connect(key), key: key})
	}
	done := make(chan struct{})
	var observer *client
	go func() {
		defer close(done)
		time.Sleep(30 * time.Millisecond)
		observer = c.connect("observer")
		observer.join(topic, `{"key":"observer"}`)
	}()
	// Each node's members act from one goroutine, as a node's
	// connections each act from their own.
	churn := func(ms []*member) {
		for round := range 25 {
			for i, m := range ms {
				switch {
				case !m.present && (round+i)%3 != 0:
					m.c.join(topic, fmt.Sprintf(`{"key":%q,"meta":{"r":%d}}`, m.key, round))
					m.present = true
				case m.present && (round+i)%4 == 0:
					m.c.send("update", fmt.Sprintf(`{"meta":{"r":%d}}`, round))
				case m.present && (round+i)%3 == 0:
					m.c.leave()
					m.present = false
				}
			}
		}
	}
	var onA, onB []*member
	for i, m := range members {
		if i%2 == 0 {
			onA = append(onA, m)
		} else {
			onB = append(onB, m)
		}
	}
	fin := make(chan struct{}, 2)
	go func() { churn(onA); fin <- struct{}{} }()
	go func() { churn(onB); fin <- struct{}{} }()
	<-fin
	<-fin
	<-done
	want := []string{"observer"}
	for _, m := range members {
		if m.present {
			want = append(want, m.key)
		}
	}
	converge(t, converged, want, observer)
	for _, n := range []*node{a, b, c} {
		waitFor(t, converged, func() string { return fmt.Sprintf("node %s lists %v", n.name, sortedKeys(listed(t, n, topic))) },
			func() bool { return slices.Equal(sortedKeys(listed(t, n, topic)), sortedStrings(want)) })
	}
	// Each listed key has one meta, and the observer's refs are the nodes'.
	truth := listed(t, a, topic)
	for key, refs := range truth {
		if got := observer.refsOf(key); !slices.Equal(got, refs) || len(refs) != 1 {
			t.Errorf("%s: observer has refs %v, node A %v; want the same single ref", key, got, refs)
		}
	}
}

func sortedStrings(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// A node whose subscription drops misses what other nodes publish
// meanwhile; once subscribed again it loads the topic and tells its
// clients, once.
func TestMissedDiffsReachClientsAfterResubscribe(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := newNode(t, "A", addr, redis.Config{}), newNode(t, "B", addr, redis.Config{})
	obs, anchor := b.connect("obs"), a.connect("anchor")
	obs.join("room:m", `{"key":"obs"}`)
	anchor.join("room:m", `{"key":"anchor"}`)
	converge(t, converged, []string{"anchor", "obs"}, obs, anchor)
	received := b.ps.Stats().Received

	// Every node's subscription drops; a member joins on A before they
	// are back (they retry after 100 ms).
	if err := a.client.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	dave := a.connect("dave")
	dave.join("room:m", `{"key":"dave"}`)
	converge(t, converged, []string{"anchor", "dave", "obs"}, obs, anchor, dave)
	if b.ps.Stats().Received != received {
		t.Log("node B received dave's join after all; the reload path was not exercised")
	}
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, d := range obs.diffs() {
		if len(d.Joins["dave"].Metas) > 0 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("obs got dave's join in %d diffs, want 1", n)
	}
}

// While Redis is frozen (SIGSTOP) a member joins and another leaves on
// one node; after Redis answers again, every client has each change once.
func TestFrozenRedisChangesArriveOnce(t *testing.T) {
	srv := redistest.Start(t)
	cfg := redis.Config{StallAfter: 300 * time.Millisecond}
	a, b := newNode(t, "A", srv.Addr, cfg), newNode(t, "B", srv.Addr, cfg)
	obsA, obsB, gone := a.connect("obsA"), b.connect("obsB"), a.connect("gone")
	obsA.join("room:f", `{"key":"obsA"}`)
	obsB.join("room:f", `{"key":"obsB"}`)
	gone.join("room:f", `{"key":"gone"}`)
	converge(t, converged, []string{"gone", "obsA", "obsB"}, obsA, obsB)

	srv.Freeze()
	dave := a.connect("dave")
	dave.join("room:f", `{"key":"dave"}`)
	gone.leave()
	time.Sleep(time.Second) // both nodes take Redis for unreachable
	srv.Thaw()
	converge(t, converged, []string{"dave", "obsA", "obsB"}, obsA, obsB)
	time.Sleep(500 * time.Millisecond) // any reload is done
	for _, o := range []*client{obsA, obsB} {
		joins, leaves := 0, 0
		for _, d := range o.diffs() {
			if len(d.Joins["dave"].Metas) > 0 {
				joins++
			}
			if len(d.Leaves["gone"].Metas) > 0 {
				leaves++
			}
		}
		if joins != 1 || leaves != 1 {
			t.Errorf("%s got dave's join %d times and gone's leave %d times, want once each", o.name, joins, leaves)
		}
	}
}
