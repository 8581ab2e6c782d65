package clusterwire_test

import (
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub/clusterwire"
)

func TestDedupDropsEchoesCopiesAndLateBroadcasts(t *testing.T) {
	self, a, b := clusterwire.NodeID{9}, clusterwire.NodeID{1}, clusterwire.NodeID{2}
	d := clusterwire.Dedup{Self: self}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	bc := func(node clusterwire.NodeID, seq uint64) clusterwire.Envelope {
		return clusterwire.Envelope{Kind: clusterwire.KindBroadcast, Node: node, Seq: seq}
	}
	const take, echo, dup = clusterwire.Take, clusterwire.Echo, clusterwire.Duplicate
	steps := []struct {
		e    clusterwire.Envelope
		want clusterwire.Verdict
	}{
		{bc(a, 1), take}, {bc(a, 2), take}, {bc(a, 2), dup}, {bc(b, 1), take}, {bc(a, 1), dup},
		{bc(a, 5), take}, {bc(a, 3), dup}, {bc(b, 2), take}, {bc(self, 1), echo},
		// Requests and replies carry no seq and may come from this node.
		{clusterwire.Envelope{Kind: clusterwire.KindRequest, Node: self}, take},
		{clusterwire.Envelope{Kind: clusterwire.KindReply, Node: a}, take},
		{bc(a, 6), take},
	}
	for i, s := range steps {
		if got := d.Accept(s.e, now); got != s.want {
			t.Errorf("step %d: Accept(%v, seq %d) = %v, want %v", i, s.e.Node[0], s.e.Seq, got, s.want)
		}
	}
	// A sender silent for longer than ForgetAfter is forgotten: its seq 1
	// is taken again (a node id is new with every process, so this is a
	// restarted node only if ids collide).
	later := now.Add(2 * clusterwire.DefaultForgetAfter)
	d.Accept(bc(b, 3), later)
	if got := d.Accept(bc(a, 1), later); got != take {
		t.Errorf("a sender silent for longer than ForgetAfter is still remembered (%v)", got)
	}
	if got := d.Accept(bc(b, 3), later); got != dup {
		t.Errorf("a sender heard from was forgotten (%v)", got)
	}
}

func TestDedupZeroValueTakesEveryNewBroadcast(t *testing.T) {
	var d clusterwire.Dedup
	e := clusterwire.Envelope{Kind: clusterwire.KindBroadcast, Seq: 1}
	if got := d.Accept(e, time.Now()); got != clusterwire.Take {
		t.Errorf("zero Dedup: %v, want Take", got)
	}
}
