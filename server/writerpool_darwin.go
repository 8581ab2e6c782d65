package server

import "golang.org/x/sys/unix"

// iovecs holds the buffers of one writev. macOS supports system calls only
// through libSystem, so writev goes through unix.Writev, which builds the
// iovecs itself (on the heap past 8 of them: one allocation per writev of
// more than 4 frames).
type iovecs struct {
	bufs [][]byte
}

// load keeps bufs for writev and returns their length in bytes.
func (s *iovecs) load(bufs [][]byte) (want int) {
	s.bufs = bufs
	for _, b := range bufs {
		want += len(b)
	}
	return want
}

// writev is libSystem's writev on the loaded buffers.
func (s *iovecs) writev(fd int) (int, error) {
	if len(s.bufs) == 0 {
		return 0, nil
	}
	return unix.Writev(fd, s.bufs)
}

// release drops the last batch's buffers.
func (s *iovecs) release() { s.bufs = nil }
