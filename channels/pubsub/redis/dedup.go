package redis

import "time"

// forgetOriginAfter is how long a node that sends nothing is remembered by
// the duplicate filter. A node's id changes with every process, so an id
// silent this long is almost always a node that stopped.
const forgetOriginAfter = 10 * time.Minute

// dedup drops broadcasts that a node published before one already taken:
// copies of a publish retried after a timeout (Redis may have executed the
// first attempt too, late) and anything that arrives out of order. Only the
// receive goroutine uses it.
type dedup struct {
	last      map[nodeID]origin
	lastSweep time.Time
}

type origin struct {
	seq  uint64
	seen time.Time
}

// accept reports whether the broadcast seq of node is new, and records it.
func (d *dedup) accept(node nodeID, seq uint64, now time.Time) bool {
	if d.last == nil {
		d.last = make(map[nodeID]origin)
		d.lastSweep = now
	}
	if now.Sub(d.lastSweep) > forgetOriginAfter {
		for id, o := range d.last {
			if now.Sub(o.seen) > forgetOriginAfter {
				delete(d.last, id)
			}
		}
		d.lastSweep = now
	}
	o, ok := d.last[node]
	if ok && seq <= o.seq {
		return false
	}
	d.last[node] = origin{seq: seq, seen: now}
	return true
}
