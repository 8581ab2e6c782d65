//go:build linux

package server

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fawkes-rt/fawkes/internal/gopool"
)

// readers runs readReady on reused goroutines: a connection that becomes
// readable gets one for as long as it has bytes to read, and a new
// goroutine each time would grow its stack through the frame reader and
// the channel's callbacks again (runtime.newstack was 13% of the server's
// CPU under request/response load).
var readers gopool.Pool[*wsConn]

func init() { readers.Run = readThenPoll } // readReady reaches the poller: no initializer

// readThenPoll reads c, then asks epoll, without waiting, whether more
// connections are readable, and reads one of them on this goroutine (the
// others go to readers of their own), until none is. Under load the
// goroutines that finish a read find the next connections themselves,
// instead of each waiting for the poll loop, which the runtime wakes only
// when a processor runs out of work (or every 10 ms): that wait was the
// request/response tail.
func readThenPoll(c *wsConn) {
	for c != nil {
		c.readReady()
		c = c.e.poller.next()
	}
}

// poller watches idle WebSocket connections with one epoll instance, so
// that an idle connection costs no goroutine and no read buffer: a
// goroutine stack is ~8 KiB, a read buffer 4 KiB, while the whole idle
// connection should stay within a few KiB. Each socket is registered
// one-shot: when bytes arrive, its readReady runs on a pool goroutine and
// re-arms the socket when done, so only one reader runs per connection.
//
// The poll loop also sweeps for idle connections (there is no blocked Read
// whose deadline could fire). It runs only while connections are watched.
//
// The loop never blocks a thread in epoll_wait: the epoll instance is
// itself registered with the Go runtime's netpoller (an epoll descriptor
// is readable while it has events), the loop collects events without
// waiting, and parks like any goroutine waiting for a socket when there are
// none. A blocking epoll_wait would take its thread out of the scheduler
// on every wake-up: under request/response load, the hand-back of the
// processor (futex wake-ups and spinning threads) cost more than the
// reads.
type poller struct {
	e *Endpoint

	mu   sync.Mutex
	epfd int // -1 while no loop runs
	// pollFD is epfd, for next, which reads it without the lock: the
	// worst a stale number can do is make one epoll_wait fail.
	pollFD atomic.Int32
	file   *os.File // epfd, registered with the runtime's netpoller
	conns  map[int]*wsConn
}

func newPoller(e *Endpoint) *poller { return &poller{e: e, epfd: -1, conns: make(map[int]*wsConn)} }

// pollEvents: readable, peer hung up; one-shot so that an event is handled
// by one reader.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// watch hands c to the poller. It returns false when c cannot be polled
// (not a plain socket, or epoll failed); c then needs a reader goroutine.
func (p *poller) watch(c *wsConn) bool {
	fd := socketFD(c.conn)
	if fd < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.epfd < 0 {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err == nil {
			err = unix.SetNonblock(epfd, true)
			if err != nil {
				_ = unix.Close(epfd)
			}
		}
		if err != nil {
			p.e.log.Warn().Err(err).Msg("epoll unavailable; using a reader goroutine per connection")
			return false
		}
		// A non-blocking descriptor makes os.NewFile register it with the
		// runtime's netpoller; a file the netpoller does not take has no
		// deadlines.
		f := os.NewFile(uintptr(epfd), "epoll")
		if err := f.SetReadDeadline(time.Time{}); err != nil {
			_ = f.Close()
			p.e.log.Warn().Err(err).Msg("epoll cannot be polled by the runtime; using a reader goroutine per connection")
			return false
		}
		p.epfd, p.file = epfd, f
		p.pollFD.Store(int32(epfd))
		go p.run(f)
	}
	ev := unix.EpollEvent{Events: pollEvents, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return false
	}
	c.fd = fd
	p.conns[fd] = c
	c.out.deadlines.Store(false)
	return true
}

// rearm watches c again after a read. It returns false if c was unwatched
// meanwhile.
func (p *poller) rearm(c *wsConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.fd < 0 || p.conns[c.fd] != c {
		return false
	}
	ev := unix.EpollEvent{Events: pollEvents, Fd: int32(c.fd)}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev) == nil
}

// unwatch stops watching c; it must run before c's socket closes, since the
// fd number can be reused right after. It reports whether c was watched.
func (p *poller) unwatch(c *wsConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.fd < 0 || p.conns[c.fd] != c {
		return false
	}
	delete(p.conns, c.fd)
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	c.fd = -1
	c.out.deadlines.Store(true)
	return true
}

// next collects the connections that are readable now, without waiting:
// it starts a reader for each but the first, which it returns (nil: none).
func (p *poller) next() *wsConn {
	epfd := int(p.pollFD.Load())
	if epfd < 0 {
		return nil
	}
	var events [16]unix.EpollEvent
	n, _ := unix.EpollWait(epfd, events[:], 0)
	if n <= 0 {
		return nil
	}
	return p.startReaders(events[:n], true)
}

// startReaders starts a reader for the connection of each event; with
// keepFirst, the first connection is returned for the caller to read
// instead (nil: none).
func (p *poller) startReaders(events []unix.EpollEvent, keepFirst bool) (first *wsConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range events {
		c := p.conns[int(ev.Fd)]
		switch {
		case c == nil:
		case keepFirst && first == nil:
			first = c
		default:
			readers.Go(c)
		}
	}
	return first
}

// pollWait bounds one wait for events, so the loop notices it has nothing
// left to watch and sweeps idle connections on time.
const pollWait = 100 * time.Millisecond

func (p *poller) run(f *os.File) {
	events := make([]unix.EpollEvent, 256)
	sweepEvery := min(p.e.cfg.IdleTimeout/4, time.Second)
	nextSweep := time.Now().Add(sweepEvery)
	raw, err := f.SyscallConn()
	if err != nil { // an *os.File always has one
		panic(err)
	}
	var n int
	var waitErr error
	// collect takes the pending events without waiting; returning false
	// parks the loop until the epoll descriptor is readable.
	collect := func(fd uintptr) bool {
		n, waitErr = unix.EpollWait(int(fd), events, 0)
		return n != 0 || (waitErr != nil && waitErr != unix.EINTR && waitErr != unix.EAGAIN)
	}
	var deadline time.Time
	for {
		if now := time.Now(); !now.Before(deadline) {
			deadline = now.Add(pollWait)
			_ = f.SetReadDeadline(deadline)
		}
		n, waitErr = 0, nil
		if err := raw.Read(collect); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			p.e.log.Error().Err(err).Msg("epoll wait failed")
		}
		if waitErr != nil && waitErr != unix.EINTR && waitErr != unix.EAGAIN {
			p.e.log.Error().Err(waitErr).Msg("epoll_wait failed")
		}
		p.startReaders(events[:max(n, 0)], false)
		if now := time.Now(); now.After(nextSweep) {
			p.sweep(now)
			nextSweep = now.Add(sweepEvery)
		}
		p.mu.Lock()
		if len(p.conns) == 0 {
			p.pollFD.Store(-1)
			_ = f.Close()
			p.epfd, p.file = -1, nil
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// sweep closes watched connections that received nothing for IdleTimeout,
// and aborts those whose write has been stuck for longer than WriteTimeout
// (they have no deadlines; see outbox.deadlines).
func (p *poller) sweep(now time.Time) {
	idle, nanos := p.e.cfg.IdleTimeout, now.UnixNano()
	var expired, stuck []*wsConn
	p.mu.Lock()
	for _, c := range p.conns {
		switch {
		case c.out.stuck(nanos):
			stuck = append(stuck, c)
		case c.idleFor(idle, nanos) && c.reason.Load() == 0:
			expired = append(expired, c)
		}
	}
	p.mu.Unlock()
	for _, c := range expired {
		c.close(CloseIdle)
	}
	for _, c := range stuck {
		c.abort(CloseWriteTimeout)
	}
}

// socketFD returns the file descriptor of a plain TCP or Unix socket, or -1.
func socketFD(conn any) int {
	sc, ok := conn.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		return -1
	}
	switch conn.(type) {
	case *netTCPConn, *netUnixConn:
	default:
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	_ = raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}
