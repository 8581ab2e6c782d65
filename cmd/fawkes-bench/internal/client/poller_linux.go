package client

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// NewPoller returns an epoll Poller with loops reading goroutines (at least
// one). Each added Conn is detached from the Go runtime: its descriptor is
// duplicated and set to blocking mode, and the net.Conn closed, so the
// runtime's netpoller no longer wakes for it. A loop reads a descriptor
// only after epoll reported it readable, so the blocking read returns at
// once; writes block until the kernel takes the frame, which for the few
// hundred bytes a client sends is immediate.
func NewPoller(loops int) (Poller, error) {
	p := &epoller{}
	for i := range min(max(loops, 1), MaxShards) {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("epoll_create1: %w", err)
		}
		l := &epollLoop{epfd: epfd, shard: i}
		p.loops = append(p.loops, l)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			l.run(&p.stop)
		}()
	}
	return p, nil
}

type epoller struct {
	loops []*epollLoop
	next  atomic.Uint64
	stop  atomic.Bool
	wg    sync.WaitGroup
}

type epollLoop struct {
	epfd  int
	shard int
	mu    sync.Mutex
	conns []*Conn // by descriptor: descriptors are small integers
	n     int     // non-nil entries of conns
}

func (l *epollLoop) get(fd int32) *Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(fd) < len(l.conns) {
		return l.conns[fd]
	}
	return nil
}

func (l *epollLoop) put(fd int, c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*Conn, fd+1-len(l.conns)+len(l.conns)/2)...)
	}
	if (l.conns[fd] == nil) != (c == nil) {
		if c == nil {
			l.n--
		} else {
			l.n++
		}
	}
	l.conns[fd] = c
}

// rawFD is a detached connection's descriptor.
type rawFD struct {
	fd   int
	loop *epollLoop
}

func (r *rawFD) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := syscall.Write(r.fd, b[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// Close is called with the Conn's write lock held.
func (r *rawFD) Close() error {
	r.loop.put(r.fd, nil)
	_ = syscall.EpollCtl(r.loop.epfd, syscall.EPOLL_CTL_DEL, r.fd, nil)
	return syscall.Close(r.fd)
}

func (p *epoller) Shards() int { return len(p.loops) }

func (p *epoller) Add(c *Conn) error {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return errors.New("client: connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(orig uintptr) { fd, dupErr = syscall.Dup(int(orig)) }); err != nil {
		return err
	}
	if dupErr != nil {
		return fmt.Errorf("dup: %w", dupErr)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, false); err != nil {
		_ = syscall.Close(fd)
		return err
	}
	l := p.loops[p.next.Add(1)%uint64(len(p.loops))]
	c.wmu.Lock()
	_ = c.nc.Close() // the duplicate keeps the socket open
	c.nc = nil
	c.out = &rawFD{fd: fd, loop: l}
	c.shard = l.shard
	c.wmu.Unlock()
	l.put(fd, c)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		c.closeByPeer(err)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// run reads ready descriptors until stop is set. The 64 KiB buffer is
// shared by every connection of the loop: a read takes all the frames
// waiting on a socket, so a busy subscriber costs one syscall per batch.
func (l *epollLoop) run(stop *atomic.Bool) {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	for !stop.Load() {
		n, err := syscall.EpollWait(l.epfd, events, 100)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for i := range n {
			fd := events[i].Fd
			c := l.get(fd)
			if c == nil {
				continue
			}
			nr, err := syscall.Read(int(fd), buf)
			switch {
			case nr > 0:
				if ferr := c.feed(buf[:nr], time.Now().UnixNano()); ferr != nil {
					c.closeByPeer(ferr)
				}
			case err == syscall.EINTR || err == syscall.EAGAIN:
			case err != nil:
				c.closeByPeer(err)
			default:
				c.closeByPeer(io.EOF)
			}
		}
	}
}

func (p *epoller) Close() {
	p.stop.Store(true)
	p.wg.Wait()
	for _, l := range p.loops {
		l.mu.Lock()
		conns := make([]*Conn, 0, l.n)
		for _, c := range l.conns {
			if c != nil {
				conns = append(conns, c)
			}
		}
		l.mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
		_ = syscall.Close(l.epfd)
	}
}
