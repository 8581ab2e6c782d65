// Package client is the smallest Phoenix V2 JSON client that a load
// generator needs: dial with source addresses cycled over 127.0.0.1..N,
// join with join_ref == ref, send pushes and heartbeats with string refs
// from a per-connection counter, and hand every received message to a
// Handler without decoding it.
//
// Reading is done by a Poller. On Linux the default Poller is a few
// goroutines around epoll: a joined connection is detached from the Go
// runtime (its descriptor duplicated, the net.Conn closed) and costs a file
// descriptor and a ~300-byte Conn, no goroutine and no buffer, so 19,000
// idle connections fit in one process without their reads competing for
// the CPU with the server under test. Elsewhere, or with
// NewGoroutinePoller, each connection gets a reading goroutine.
package client
