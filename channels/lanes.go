package channels

import (
	"github.com/fawkes-rt/fawkes/internal/gopool"
	"github.com/fawkes-rt/fawkes/protocol"
)

// laneWork is one lane to run: Mux.run(s, msg).
type laneWork struct {
	x   *Mux
	s   *Socket
	msg protocol.Message
}

// lanes runs the lanes of every concurrent Mux of the process on reused
// goroutines (see gopool): a lane whose channel blocks keeps its goroutine,
// and the next lane to start gets another.
var lanes = gopool.Pool[laneWork]{Run: func(w laneWork) { w.x.run(w.s, w.msg) }}
