package channels

import (
	"github.com/fawkes-rt/fawkes/internal/gopool"
	"github.com/fawkes-rt/fawkes/protocol"
)

// Turn is a channel's turn to handle messages, which a concurrent Mux
// (MuxConfig.Concurrent) starts when a message arrives for a channel that
// has nothing else to handle: the message, then whatever is queued on the
// channel meanwhile. Dispatch runs it on a goroutine of the Mux's pool;
// DispatchTurn hands it to the transport instead, to run on the goroutine
// that read the message once that goroutine is done reading. The zero Turn
// is nothing to run.
type Turn struct {
	x   *Mux
	s   *Socket
	msg protocol.Message
}

// Pending reports whether t has a turn to run.
func (t Turn) Pending() bool { return t.x != nil }

// Run runs the turn on the calling goroutine: the channel's callbacks for
// its message and for every message queued on the channel until none is
// left. It may block as long as those callbacks do. A Turn must be run (or
// handed to Go) exactly once: until it is, its channel handles nothing.
func (t Turn) Run() {
	if t.x != nil {
		t.x.run(t.s, t.msg)
	}
}

// Go runs the turn on a goroutine of the Mux's pool, as Dispatch does.
func (t Turn) Go() {
	if t.x != nil {
		lanes.Go(t)
	}
}

// lanes runs the turns of every concurrent Mux of the process on reused
// goroutines (see gopool): a turn whose channel blocks keeps its
// goroutine, and the next turn to start gets another.
var lanes = gopool.Pool[Turn]{Run: Turn.Run}
