package phoenixredis

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// warnEvery is the least time between two warnings of one kind: a burst of
// bad messages (say, a misconfigured publisher) logs once per kind per
// interval, with the number suppressed meanwhile.
const warnEvery = 10 * time.Second

// rateLimited logs warnings, each kind at most once per warnEvery. The
// zero value is ready; it is safe for concurrent use.
type rateLimited struct {
	mu    sync.Mutex
	kinds map[string]*warnState
}

type warnState struct {
	last       time.Time
	suppressed int
}

// log writes msg at warn level unless a warning of kind was written less
// than warnEvery ago, in which case it only counts it.
func (r *rateLimited) log(l *zerolog.Logger, kind, msg, topic string, err error) {
	now := time.Now()
	r.mu.Lock()
	if r.kinds == nil {
		r.kinds = make(map[string]*warnState)
	}
	s := r.kinds[kind]
	if s == nil {
		s = &warnState{}
		r.kinds[kind] = s
	}
	if !s.last.IsZero() && now.Sub(s.last) < warnEvery {
		s.suppressed++
		r.mu.Unlock()
		return
	}
	suppressed := s.suppressed
	s.last, s.suppressed = now, 0
	r.mu.Unlock()
	e := l.Warn().Str("kind", kind)
	if topic != "" {
		e = e.Str("topic", topic)
	}
	if err != nil {
		e = e.Err(err)
	}
	if suppressed > 0 {
		e = e.Int("suppressed", suppressed)
	}
	e.Msg(msg)
}
