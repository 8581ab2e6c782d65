package main

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// newConns tracks the HTTP connections that have not sent a request yet.
// http.Server.Shutdown waits for such a connection until it is 5 s old (a
// client that opened it may still send on it); on shutdown nothing new is
// served anyway, so closeAll ends them at once and the process exits
// without that wait (seen with fetch-based LongPoll clients, which keep a
// spare connection open).
type newConns struct {
	mu    sync.Mutex
	conns map[net.Conn]time.Time // when each was accepted
}

// track is an http.Server.ConnState hook.
func (n *newConns) track(c net.Conn, state http.ConnState) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if state == http.StateNew {
		if n.conns == nil {
			n.conns = make(map[net.Conn]time.Time)
		}
		n.conns[c] = time.Now()
		return
	}
	delete(n.conns, c)
}

// idleNew is how long a new connection may go without a request before
// shutdown closes it: a request already on its way is read well within it.
const idleNew = 250 * time.Millisecond

// closeAll closes every connection that has waited idleNew for its first
// request.
func (n *newConns) closeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for c, since := range n.conns {
		if time.Since(since) >= idleNew {
			_ = c.Close()
			delete(n.conns, c)
		}
	}
}
