package events

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// leaseTable is the cluster's lease store in these tests: what Redis is to
// the Redis adapter.
type leaseTable struct {
	mu      sync.Mutex
	holders map[string]string
	down    bool // the cluster cannot be reached
}

// clusterNode is one node's PubSub in these tests: every node shares one
// Local (as if Redis carried every broadcast) and one leaseTable.
type clusterNode struct {
	*pubsub.Local
	name   string
	leases *leaseTable
	local  *pubsub.Local // what PublishLocal reaches: this node's members
}

func (n *clusterNode) Lease(_ context.Context, names []string, _ time.Duration) ([]bool, error) {
	n.leases.mu.Lock()
	defer n.leases.mu.Unlock()
	if n.leases.down {
		return nil, errors.New("cluster unreachable")
	}
	held := make([]bool, len(names))
	for i, name := range names {
		if h, ok := n.leases.holders[name]; !ok || h == n.name {
			n.leases.holders[name] = n.name
			held[i] = true
		}
	}
	return held, nil
}

func (n *clusterNode) Release(_ context.Context, names []string) {
	n.leases.mu.Lock()
	defer n.leases.mu.Unlock()
	for _, name := range names {
		if n.leases.holders[name] == n.name {
			delete(n.leases.holders, name)
		}
	}
}

func (n *clusterNode) PublishLocal(b *pubsub.Broadcast) error { return n.local.Publish(b) }

type heartbeatCounter struct {
	mu sync.Mutex
	n  int
}

func (c *heartbeatCounter) Deliver(b *pubsub.Broadcast) {
	if b.Event == EventHeartbeat {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
}

func (c *heartbeatCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// Three nodes with members in one room: each beat reaches every member
// once, sent by the lease holder; when the holder loses its members,
// another node sends the next beat; cut off from the cluster, every node
// beats its own members only.
func TestHeartbeatOncePerRoomAcrossNodes(t *testing.T) {
	shared := pubsub.NewLocal()
	leases := &leaseTable{holders: map[string]string{}}
	const topic = "events:room"
	var svcs []*Service
	var members []*heartbeatCounter
	var helds []map[string]bool
	for _, name := range []string{"a", "b", "c"} {
		node := &clusterNode{Local: shared, name: name, leases: leases, local: pubsub.NewLocal()}
		svc := New(Config{PubSub: node, Now: time.Now})
		svc.joined(topic)
		member := &heartbeatCounter{}
		shared.Subscribe(topic, member)
		node.local.Subscribe(topic, member)
		svcs, members, helds = append(svcs, svc), append(members, member), append(helds, map[string]bool{})
	}
	beat := func() {
		for i, svc := range svcs {
			svc.heartbeat(context.Background(), time.Second, helds[i])
		}
	}
	expect := func(round, want int) {
		t.Helper()
		for i, m := range members {
			if got := m.count(); got != want {
				t.Fatalf("round %d: member on node %d has %d heartbeats, want %d", round, i, got, want)
			}
		}
	}
	beat()
	expect(1, 1)
	beat()
	expect(2, 2)

	holder := leases.holders[heartbeatLease(topic)]
	i := int(holder[0] - 'a')
	svcs[i].left(topic)
	beat() // the holder has no member now: it releases the lease
	beat()
	// Round 3 may be missed by the members while the lease moves; from then
	// on every round is one beat.
	before := members[(i+1)%3].count()
	beat()
	if got := members[(i+1)%3].count() - before; got != 1 {
		t.Fatalf("after the holder left, a round gave %d heartbeats, want 1", got)
	}
	if leases.holders[heartbeatLease(topic)] == holder {
		t.Fatal("the node without members still holds the lease")
	}

	leases.down = true
	before = members[(i+1)%3].count()
	beat() // each node with members beats its own, locally
	if got := members[(i+1)%3].count() - before; got != 1 {
		t.Fatalf("with the cluster unreachable a member got %d heartbeats in one round, want 1", got)
	}
}
