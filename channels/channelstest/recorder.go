// Package channelstest has helpers for testing channels without a network,
// as httptest does for HTTP handlers.
package channelstest

import (
	"sync"

	"github.com/fawkes-rt/fawkes/protocol"
)

// Recorder is a channels.Transport that keeps every frame it is sent, for a
// channels.Mux under test. It is safe for concurrent use.
type Recorder struct {
	mu           sync.Mutex
	frames       []protocol.Frame
	disconnected int
}

// Send implements channels.Transport: it records f.
func (r *Recorder) Send(f protocol.Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, f)
	r.mu.Unlock()
}

// Disconnect implements channels.Transport: it counts the call.
func (r *Recorder) Disconnect() {
	r.mu.Lock()
	r.disconnected++
	r.mu.Unlock()
}

// Take returns the frames recorded since the last Take, in order.
func (r *Recorder) Take() []protocol.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frames
	r.frames = nil
	return f
}

// Disconnected returns how many times Disconnect was called.
func (r *Recorder) Disconnected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.disconnected
}

// Len returns how many frames Take would return now.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}
