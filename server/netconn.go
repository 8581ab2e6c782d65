package server

import (
	"errors"
	"net"
	"syscall"
)

// The socket types the poller can watch (TLS and other wrappers cannot: they
// buffer data the poller would not see).
type (
	netTCPConn  = net.TCPConn
	netUnixConn = net.UnixConn
)

// isPeerReset reports whether err says the client reset the connection:
// ECONNRESET (a reset arrived), EPIPE (written after one), ECONNABORTED,
// or their Windows forms (peerResetErrnos).
func isPeerReset(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED:
		return true
	}
	for _, e := range peerResetErrnos {
		if errno == e {
			return true
		}
	}
	return false
}
