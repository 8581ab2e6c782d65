//go:build !linux

package server

// poller is a no-op where epoll is unavailable: every connection gets a
// reader goroutine.
type poller struct{}

func newPoller(*Endpoint) *poller    { return &poller{} }
func (*poller) watch(*wsConn) bool   { return false }
func (*poller) rearm(*wsConn) bool   { return false }
func (*poller) unwatch(*wsConn) bool { return false }
