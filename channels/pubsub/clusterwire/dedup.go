package clusterwire

import "time"

// DefaultForgetAfter is Dedup.ForgetAfter's default.
const DefaultForgetAfter = 10 * time.Minute

// Verdict is what a receiver does with an envelope (see Dedup.Accept).
type Verdict int

// Verdicts of Dedup.Accept.
const (
	// Take: deliver it to this node's subscribers (a broadcast), or serve
	// or answer it (a request or a reply).
	Take Verdict = iota
	// Echo: a broadcast of this very node, which the broker sent back; it
	// reached this node's subscribers when it was published.
	Echo
	// Duplicate: a broadcast its sender published before one already
	// taken: a copy of a publish sent again after a timeout (the broker
	// may have executed the first attempt too, late), or one out of order.
	Duplicate
)

// Dedup is the receive side's rule for broadcasts: it takes each
// broadcast of another node once, in the order its sender published it,
// and skips this node's own. It remembers, per sender, the highest seq it
// took. The zero value works, with no node's broadcasts taken for echoes;
// set Self first.
//
// Dedup is not safe for concurrent use: it belongs to the one goroutine
// that reads what the broker delivers, as ordering requires anyway.
type Dedup struct {
	// Self is this node's id: its broadcasts are Echo.
	Self NodeID
	// ForgetAfter is how long a sender that sends nothing is remembered.
	// A node's id changes with every process, so an id silent this long
	// is almost always a node that stopped. Zero means DefaultForgetAfter.
	ForgetAfter time.Duration

	last      map[NodeID]origin
	lastSweep time.Time
}

type origin struct {
	seq  uint64
	seen time.Time
}

// Accept returns the verdict on e, received at now, and records a
// broadcast it takes. Requests and replies are always Take: they carry no
// seq, and a node may call itself.
func (d *Dedup) Accept(e Envelope, now time.Time) Verdict {
	if e.Kind != KindBroadcast {
		return Take
	}
	if e.Node == d.Self && d.Self != (NodeID{}) {
		return Echo
	}
	forget := d.ForgetAfter
	if forget <= 0 {
		forget = DefaultForgetAfter
	}
	if d.last == nil {
		d.last = make(map[NodeID]origin)
		d.lastSweep = now
	}
	if now.Sub(d.lastSweep) > forget {
		for id, o := range d.last {
			if now.Sub(o.seen) > forget {
				delete(d.last, id)
			}
		}
		d.lastSweep = now
	}
	o, ok := d.last[e.Node]
	if ok && e.Seq <= o.seq {
		return Duplicate
	}
	d.last[e.Node] = origin{seq: e.Seq, seen: now}
	return Take
}

// String returns the verdict's name.
func (v Verdict) String() string {
	switch v {
	case Take:
		return "take"
	case Echo:
		return "echo"
	case Duplicate:
		return "duplicate"
	}
	return "unknown"
}
