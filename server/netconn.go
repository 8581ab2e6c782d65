package server

import "net"

// The socket types the poller can watch (TLS and other wrappers cannot: they
// buffer data the poller would not see).
type (
	netTCPConn  = net.TCPConn
	netUnixConn = net.UnixConn
)
