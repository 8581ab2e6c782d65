package presence

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// replica keeps, in a cluster, the presences other nodes track on a topic
// that has members on this node. They sit in the topic's lists next to the
// local ones, so List and PushState cost the same and keep the same order,
// but belong to no socket: they are keyed by phx_ref.
//
// The replica subscribes to the topic (it is a pubsub.Subscriber) before
// it loads the other nodes' presences, so every change is either in the
// snapshot or in a presence_diff it receives afterwards, or both. It
// applies diffs from the snapshot request on again to the snapshot (see
// syncOnce): joins are idempotent by phx_ref and leaves of absent refs are
// ignored, and a ref is never reused, so applying a run of diffs that
// starts before the snapshot to the snapshot gives the state after the
// run.
//
// Deliver runs on the publisher's goroutine, under the PubSub's read lock,
// and must not block: it puts the diff in the inbox and applies it only if
// it gets the topic's lock at once. Whoever holds that lock applies the
// inbox after taking it (acquire) and after releasing it (topic.unlock), so
// a diff waits at most until the holder is done, and PushState always
// shows every diff delivered before it.
type replica struct {
	p    *Presence
	t    *topic
	done chan struct{} // closed by stop

	// Guarded by t.mu.
	remote  map[ref]remoteMember
	loaded  bool          // a snapshot has been applied
	exposed bool          // PushState showed the state before it was loaded
	syncing bool          // a load is in flight: applied diffs go to q as well
	q       []*remoteDiff // diffs applied since the load in flight was asked for
	ready   chan struct{} // closed once the first load is done (or failed)
	isReady bool
	// Presences a resync's diff joined lately, and the leaves of them to
	// deliver again (see watch).
	recent      map[ref]bool
	recentUntil time.Time
	repairs     []remoteMeta
	flushing    bool

	inboxMu sync.Mutex
	inbox   []*remoteDiff

	stopped atomic.Bool

	lifeMu   sync.Mutex // orders start, stop and the loads
	started  bool       // subscribed
	running  bool       // a syncLoop goroutine runs
	again    bool       // a load was asked for while one ran
	failures int        // loads failed in a row
	timer    *time.Timer
}

// remoteMember is a presence tracked on another node.
type remoteMember struct {
	m   *tracked
	key string
}

func newReplica(p *Presence, t *topic) *replica {
	return &replica{p: p, t: t, done: make(chan struct{}), remote: make(map[ref]remoteMember), ready: make(chan struct{})}
}

// Deliver implements pubsub.Subscriber: it takes the presence_diffs of
// other nodes. It does not block (see replica).
func (r *replica) Deliver(b *pubsub.Broadcast) {
	if b.Event != EventDiff || r.stopped.Load() {
		return
	}
	if _, ours := b.Meta.(sentHere); ours {
		return // this node's own change, in the state already
	}
	d, err := parseDiff(b.Payload)
	if err != nil {
		return // no phoenix.js could apply it either
	}
	r.inboxMu.Lock()
	r.inbox = append(r.inbox, d)
	r.inboxMu.Unlock()
	r.drain()
}

func (r *replica) pending() bool {
	r.inboxMu.Lock()
	defer r.inboxMu.Unlock()
	return len(r.inbox) > 0
}

// takeInbox empties the inbox.
func (r *replica) takeInbox() []*remoteDiff {
	r.inboxMu.Lock()
	defer r.inboxMu.Unlock()
	ds := r.inbox
	r.inbox = nil
	return ds
}

// drain applies the inbox if the topic's lock is free; a holder of the lock
// applies it otherwise.
func (r *replica) drain() {
	for r.pending() {
		if !r.t.mu.TryLock() {
			return
		}
		r.applyInbox()
		r.t.mu.Unlock()
	}
}

// applyInbox applies the diffs waiting in the inbox; t.mu is held.
func (r *replica) applyInbox() {
	for _, d := range r.takeInbox() {
		r.apply(d)
	}
}

// apply applies a diff of other nodes as phoenix.js does: joins first,
// each put last among its key's metas (once per phx_ref), then leaves of
// the refs present. Local presences are never touched: another node can
// only announce its own. t.mu is held.
func (r *replica) apply(d *remoteDiff) {
	if r.t.dead.Load() {
		return
	}
	t := r.t
	for _, j := range d.joins {
		m := &tracked{raw: j.raw, ref: j.ref}
		old, ok := r.remote[j.ref]
		switch {
		case ok && old.key == j.key:
			t.replace(old.m, m)
		case ok:
			t.remove(old.key, old.m)
			t.add(j.key, m)
		default:
			t.add(j.key, m)
		}
		r.remote[j.ref] = remoteMember{m: m, key: j.key}
	}
	for _, l := range d.leaves {
		if old, ok := r.remote[l.ref]; ok {
			t.remove(old.key, old.m)
			delete(r.remote, l.ref)
		}
		if r.recent != nil {
			r.checkRepair(l)
		}
	}
	if r.syncing {
		r.q = append(r.q, d)
	}
}

// markReady releases the PushState calls waiting for the first load; t.mu
// is held.
func (r *replica) markReady() {
	if !r.isReady {
		r.isReady = true
		close(r.ready)
	}
}

// start subscribes the replica to its topic and loads it. Track calls it
// after creating the topic, without t.mu.
func (r *replica) start() {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.started || r.stopped.Load() {
		return
	}
	r.started = true
	r.p.pubsub().Subscribe(r.t.name, r)
	r.running = true
	go r.syncLoop()
}

// stop unsubscribes the replica when its topic has no member on this node
// any more; the presences of other nodes are forgotten with the topic. It
// is called without t.mu.
func (r *replica) stop() {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.stopped.Swap(true) {
		return
	}
	close(r.done)
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.started {
		r.p.pubsub().Unsubscribe(r.t.name, r)
	}
	r.takeInbox()
}

// requestSync loads the topic again, at once or right after the load in
// flight.
func (r *replica) requestSync() {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.stopped.Load() || !r.started {
		return // start loads it
	}
	if r.running {
		r.again = true
		return
	}
	r.running = true
	go r.syncLoop()
}

// syncLoop loads the topic until a load succeeds with nothing asked for
// meanwhile; a failed or unsettled load is tried again later, on a timer.
func (r *replica) syncLoop() {
	for {
		select {
		case r.p.loads <- struct{}{}:
		case <-r.done:
			r.lifeMu.Lock()
			r.running = false
			r.lifeMu.Unlock()
			return
		}
		retry, err := r.syncOnce()
		<-r.p.loads
		r.lifeMu.Lock()
		if r.stopped.Load() {
			r.running = false
			r.lifeMu.Unlock()
			return
		}
		if r.again {
			r.again = false
			r.lifeMu.Unlock()
			continue
		}
		if err != nil {
			r.failures++
			retry = min(100*time.Millisecond<<min(r.failures, 10), maxLoadBackoff)
		} else {
			r.failures = 0
		}
		if retry > 0 {
			if r.timer != nil {
				r.timer.Stop()
			}
			r.timer = time.AfterFunc(retry, r.requestSync)
		}
		r.running = false
		r.lifeMu.Unlock()
		return
	}
}

// syncOnce loads the other nodes' presences and makes the replica match
// them. When clients have seen the replica before (it had been loaded, or
// PushState could not wait), what changed is delivered to this node's
// subscribers as a presence_diff.
func (r *replica) syncOnce() (retry time.Duration, err error) {
	t := r.t
	t.mu.Lock()
	if t.dead.Load() {
		t.mu.Unlock()
		return 0, nil
	}
	r.applyInbox()
	r.syncing, r.q = true, nil
	resync := r.loaded || r.exposed
	t.unlock()

	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	snap, err := r.p.cluster.Load(ctx, t.name)
	cancel()
	if resync && err == nil {
		// A diff the snapshot holds already may still be on its way through
		// the subscription; applied before the comparison, it is not
		// delivered twice. (A first load shows nothing to compare.)
		select {
		case <-time.After(resyncSettle):
		case <-r.done:
		}
	}

	t.mu.Lock()
	defer t.unlock()
	if t.dead.Load() {
		return 0, nil
	}
	r.applyInbox()
	q := r.q
	r.syncing, r.q = false, nil
	if err != nil {
		r.markReady()
		return 0, err
	}
	joins, leaves := r.reconcile(snap.Members, q, snap.RetryAfter > 0)
	show := r.loaded || r.exposed
	r.loaded = true
	r.markReady()
	if show && len(joins)+len(leaves) > 0 {
		r.publishLocal(joins, leaves)
		r.watch(joins)
	}
	return snap.RetryAfter, nil
}

// reconcile makes the remote presences those of the snapshot with the
// diffs q applied to it (all of them, if additive, none removed), and
// returns what it added and removed. t.mu is held.
func (r *replica) reconcile(members []Member, q []*remoteDiff, additive bool) (joins, leaves []remoteMeta) {
	sortMembers(members)
	// want is the snapshot with q applied: order holds every presence put,
	// idx the position of those still there.
	idx := make(map[ref]int, len(members))
	order := make([]remoteMeta, 0, len(members))
	put := func(m remoteMeta) {
		idx[m.ref] = len(order)
		order = append(order, m)
	}
	for _, m := range members {
		if rm, ok := toRemote(m); ok {
			put(rm)
		}
	}
	for _, d := range q {
		for _, j := range d.joins {
			put(j)
		}
		for _, l := range d.leaves {
			delete(idx, l.ref)
		}
	}
	t := r.t
	if !additive {
		for rf, rm := range r.remote {
			if _, ok := idx[rf]; !ok {
				leaves = append(leaves, remoteMeta{key: rm.key, raw: rm.m.raw, ref: rf})
				t.remove(rm.key, rm.m)
				delete(r.remote, rf)
			}
		}
		sortMetas(leaves)
	}
	for i, m := range order {
		if j, ok := idx[m.ref]; !ok || j != i {
			continue // left, or joined again later
		}
		if _, ok := r.remote[m.ref]; ok {
			continue
		}
		tm := &tracked{raw: m.raw, ref: m.ref}
		t.add(m.key, tm)
		r.remote[m.ref] = remoteMember{m: tm, key: m.key}
		joins = append(joins, m)
	}
	return joins, leaves
}

// publishLocal delivers a presence_diff to this node's subscribers only;
// t.mu is held, so that no change of this node overtakes it.
func (r *replica) publishLocal(joins, leaves []remoteMeta) {
	b := pubsub.NewBroadcast(r.t.name, EventDiff, encodeDiff(joins, leaves))
	b.Meta = sentHere{}
	_ = r.p.cluster.PublishLocal(b)
}

// resyncSettle is how long a resync waits, after reading the snapshot,
// for the diffs already sent to this node to arrive.
const resyncSettle = 50 * time.Millisecond

// repairWindow is how long after a resync's presence_diff a leave of a
// presence it joined is delivered again (see watch).
const repairWindow = time.Second

// watch follows a resync's presence_diff, which this node's sockets get
// through a fan-out of its own, concurrent with the fan-out of other nodes'
// diffs. A diff that left a presence the resync joined may have reached
// some sockets before the resync's diff: those would show the presence
// joined for good. So for repairWindow, a leave of such a presence is
// delivered again to this node's sockets (see flushRepairs); a socket that
// had them in the right order gets a leave of a ref it no longer holds,
// which phoenix.js ignores. t.mu is held.
func (r *replica) watch(joined []remoteMeta) {
	r.recent = make(map[ref]bool, len(joined))
	for _, j := range joined {
		r.recent[j.ref] = true
	}
	r.recentUntil = time.Now().Add(repairWindow)
}

// checkRepair records l for flushRepairs if it leaves a presence a resync
// joined lately. t.mu is held.
func (r *replica) checkRepair(l remoteMeta) {
	if time.Now().After(r.recentUntil) {
		r.recent = nil
		return
	}
	if !r.recent[l.ref] {
		return
	}
	r.repairs = append(r.repairs, l)
	if !r.flushing {
		// Not from here: apply may run within the PubSub's fan-out, which
		// must not publish.
		r.flushing = true
		go r.flushRepairs()
	}
}

// flushRepairs delivers the leaves checkRepair recorded to this node's
// sockets.
func (r *replica) flushRepairs() {
	t := r.t
	t.mu.Lock()
	defer t.unlock()
	leaves := r.repairs
	r.repairs, r.flushing = nil, false
	if len(leaves) > 0 && !t.dead.Load() {
		r.publishLocal(nil, leaves)
	}
}
