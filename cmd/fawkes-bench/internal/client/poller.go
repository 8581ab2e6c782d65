package client

import (
	"sync"
	"time"
)

// Poller reads the Conns given to it and passes what they receive to their
// Handlers. Once added, a Conn belongs to the Poller: the caller may write
// to it, but only Poller.Close closes it.
type Poller interface {
	// Add starts reading c. c must have been dialed (and usually joined)
	// and must not be read by anyone else.
	Add(c *Conn) error
	// Close stops reading and closes every Conn still open, without calling
	// Handler.Closed for them. It waits for the reading goroutines to end.
	Close()
	// Shards is how many distinct Conn.Shard values Add assigns (at most
	// MaxShards).
	Shards() int
}

// goroutinePoller reads each Conn on its own goroutine with its own buffer.
type goroutinePoller struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
	wg    sync.WaitGroup
	buf   int
}

// NewGoroutinePoller returns a Poller with one reading goroutine (and a
// 4 KiB buffer) per connection: portable, and the reference against which
// the epoll Poller was measured.
func NewGoroutinePoller() Poller {
	return &goroutinePoller{conns: map[*Conn]struct{}{}, buf: 4 << 10}
}

// goroutineShards spreads the goroutine Poller's Conns over a few shards;
// their counters still need atomics (several goroutines share a shard).
const goroutineShards = 16

func (p *goroutinePoller) Shards() int { return goroutineShards }

func (p *goroutinePoller) Add(c *Conn) error {
	c.shard = c.ID % goroutineShards
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, p.buf)
		for {
			n, err := c.nc.Read(buf)
			if n > 0 {
				if ferr := c.feed(buf[:n], time.Now().UnixNano()); ferr != nil {
					err = ferr
				}
			}
			if err != nil {
				c.closeByPeer(err)
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
				return
			}
		}
	}()
	return nil
}

func (p *goroutinePoller) Close() {
	p.mu.Lock()
	conns := make([]*Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
}
