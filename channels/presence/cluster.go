package presence

import (
	"context"
	"encoding/json"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Bounds of the cluster mode (see SetCluster).
const (
	// LoadWait bounds how long PushState and List wait for a topic's first
	// load of the other nodes' presences. Past it they show what this node
	// knows, and the rest reaches the clients as a presence_diff once
	// loaded.
	LoadWait = 2 * time.Second
	// loadTimeout bounds one Cluster.Load.
	loadTimeout = 2 * time.Second
	// maxLoads bounds the loads in flight at once (after an outage every
	// replicated topic loads again).
	maxLoads = 8
	// maxLoadBackoff bounds the wait before a failed load is tried again.
	maxLoadBackoff = 5 * time.Second
)

// Cluster shares a Presence's state with the other nodes of a cluster (see
// SetCluster): it stores this node's presences where the others can read
// them, announces every change with its presence_diff, and reads the
// presences the other nodes track.
//
// Concurrency: every method is safe for concurrent use. Publish and
// PublishLocal are called with a topic of the Presence locked: they must
// not block (queue what goes to other nodes) and must not call back into
// the Presence or its Replication. Load is called with no lock held, from a
// goroutine of the Presence or from the goroutine of PushState or List; it
// may block until ctx ends.
type Cluster interface {
	// Publish delivers b, a presence_diff, to this node's subscribers of
	// b.Topic before it returns, and sends it to the other nodes' after
	// everything published earlier. The change c to the stored presences
	// reaches the store in the same order, before b reaches another node:
	// a node that reads the store after receiving b sees c. A nil b stores
	// c and announces nothing.
	Publish(b *pubsub.Broadcast, c Change) error
	// PublishLocal delivers b to this node's subscribers only (the
	// presence_diff of what this node had missed).
	PublishLocal(b *pubsub.Broadcast) error
	// Load returns the presences the other nodes store for topic (this
	// node's own are left out: the Presence has them).
	Load(ctx context.Context, topic string) (Snapshot, error)
}

// Member is one presence as a Cluster stores it.
type Member struct {
	// Key is the presence's key.
	Key string
	// Ref is its phx_ref.
	Ref string
	// Meta is the meta object as clients see it, phx_ref included.
	Meta json.RawMessage
}

// Change is a change of the presences one node stores for a topic.
type Change struct {
	// Topic is the topic changed.
	Topic string
	// Node is the node whose presences change. Empty means this node's;
	// another node's only when it is down and its presences are removed.
	Node string
	// Joins are presences stored, Leaves presences removed.
	Joins, Leaves []Member
	// Empty reports that Node has no presence left on Topic.
	Empty bool
}

// Snapshot is what Cluster.Load read.
type Snapshot struct {
	// Members are the presences of the other nodes, in any order.
	Members []Member
	// RetryAfter, when not zero, says that the store may still miss some
	// nodes' presences (it lost its data lately, and those nodes have not
	// written theirs again yet): the Presence adds Members but removes
	// nothing, and loads again after RetryAfter.
	RetryAfter time.Duration
}

// sentHere tags the presence_diff broadcasts a Presence publishes itself, so
// that its own replicas, which subscribe to the same topics, skip them.
type sentHere struct{}

// SetCluster makes p share its state through c, and returns the handle
// through which c tells p what happens to the cluster. Call it once, before
// p is used; p's PubSub must be the one c publishes on.
//
// With a Cluster, List and PushState show the presences of every node. A
// topic that has members tracked on this node is replicated: the Presence
// subscribes to it, loads the other nodes' presences once (PushState and
// List wait up to LoadWait for it), and keeps them up to date from their
// presence_diff broadcasts. A topic without a member here is read from
// the Cluster for each PushState or List.
func (p *Presence) SetCluster(c Cluster) *Replication {
	p.cluster = c
	p.loads = make(chan struct{}, maxLoads)
	return &Replication{p: p}
}

// Replication is a Presence's side of its Cluster: the calls through which
// the Cluster reports what happened to the other nodes and to the store.
// Its methods are safe for concurrent use and may block on the Presence's
// locks: call them from a goroutine of the Cluster's own, never from
// within a Cluster method.
type Replication struct {
	p *Presence
}

// NodeDown removes the presences a dead node had stored on topic (as the
// Cluster read them from its store) from this node's state, and publishes
// them as leaves in one presence_diff to every node, with a Change of Node
// removing them from the store. The Cluster calls it on one node per dead
// node and topic.
func (r *Replication) NodeDown(node, topic string, stored []Member) error {
	p := r.p
	sortMembers(stored)
	leaves := make([]remoteMeta, 0, len(stored))
	for _, m := range stored {
		if rm, ok := toRemote(m); ok {
			leaves = append(leaves, rm)
		}
	}
	b := pubsub.NewBroadcast(topic, EventDiff, encodeDiff(nil, leaves))
	b.Meta = sentHere{}
	c := Change{Topic: topic, Node: node, Leaves: stored, Empty: true}
	t := p.acquire(topic, false)
	if t == nil {
		return p.cluster.Publish(b, c)
	}
	defer p.release(t)
	t.repl.apply(&remoteDiff{leaves: leaves})
	return p.cluster.Publish(b, c)
}

// Rewrite stores every presence of this node again, topic by topic, as
// Changes with every member in Joins; with announce, each with a
// presence_diff of them as joins, for nodes that removed them (this node
// had been taken for dead). The Cluster calls it when its store may have
// lost this node's presences.
func (r *Replication) Rewrite(announce bool) error {
	p := r.p
	var first error
	for _, name := range p.topicNames() {
		t := p.acquire(name, false)
		if t == nil {
			continue
		}
		members, metas := t.localMembers()
		var b *pubsub.Broadcast
		if announce {
			b = pubsub.NewBroadcast(name, EventDiff, encodeDiff(metas, nil))
			b.Meta = sentHere{}
		}
		if err := p.cluster.Publish(b, Change{Topic: name, Joins: members}); err != nil && first == nil {
			first = err
		}
		p.release(t)
	}
	return first
}

// Reload loads every replicated topic again and delivers to this node's
// subscribers, as a presence_diff, what changed meanwhile. The Cluster
// calls it when it may have missed other nodes' broadcasts (its
// subscription was down). It returns at once; the loads run in the
// background.
func (r *Replication) Reload() {
	p := r.p
	p.mu.RLock()
	repls := make([]*replica, 0, len(p.topics))
	for _, t := range p.topics {
		if t.repl != nil {
			repls = append(repls, t.repl)
		}
	}
	p.mu.RUnlock()
	for _, rp := range repls {
		rp.requestSync()
	}
}

// Leave untracks every presence of this node and publishes the leaves, one
// presence_diff per topic, as a node leaving the cluster must: the others
// would show them until this node's death is noticed otherwise. Later
// UntrackAll calls for the same sockets do nothing. Call it once the node
// accepts no more joins.
func (r *Replication) Leave() error {
	p := r.p
	var first error
	for _, name := range p.topicNames() {
		t := p.acquire(name, false)
		if t == nil {
			continue
		}
		members, metas := t.localMembers()
		for s, mine := range t.sockets {
			for key, m := range mine {
				t.remove(key, m)
			}
			delete(t.sockets, s)
		}
		b := pubsub.NewBroadcast(name, EventDiff, encodeDiff(nil, metas))
		b.Meta = sentHere{}
		if err := p.cluster.Publish(b, Change{Topic: name, Leaves: members, Empty: true}); err != nil && first == nil {
			first = err
		}
		p.release(t)
	}
	return first
}

// topicNames returns the names of the topics with members on this node.
func (p *Presence) topicNames() []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	names := make([]string, 0, len(p.topics))
	for name := range p.topics {
		names = append(names, name)
	}
	return names
}

// loadState reads the state of a topic this node does not replicate (it
// has no member here) from the Cluster: {} if that fails.
func (p *Presence) loadState(topic string) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	snap, err := p.cluster.Load(ctx, topic)
	if err != nil || len(snap.Members) == 0 {
		return emptyState
	}
	sortMembers(snap.Members)
	t := newTopic(topic)
	for _, m := range snap.Members {
		if rm, ok := toRemote(m); ok {
			t.add(rm.key, &tracked{raw: rm.raw, ref: rm.ref})
		}
	}
	return t.encoded()
}

// member returns m, tracked under key on this node, as a Cluster stores it.
func member(key string, m *tracked) Member {
	return Member{Key: key, Ref: string(m.ref[:]), Meta: m.raw}
}

// localMembers returns the presences tracked on this node, oldest first,
// as stored and as diff metas.
func (t *topic) localMembers() ([]Member, []remoteMeta) {
	var metas []remoteMeta
	for _, mine := range t.sockets {
		for key, m := range mine {
			metas = append(metas, remoteMeta{key: key, raw: m.raw, ref: m.ref})
		}
	}
	sortMetas(metas)
	members := make([]Member, len(metas))
	for i, rm := range metas {
		members[i] = Member{Key: rm.key, Ref: string(rm.ref[:]), Meta: rm.raw}
	}
	return members, metas
}
