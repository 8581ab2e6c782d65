//go:build !linux

package client

// NewPoller returns a goroutine-per-connection Poller: epoll is Linux only.
func NewPoller(loops int) (Poller, error) { return NewGoroutinePoller(), nil }
