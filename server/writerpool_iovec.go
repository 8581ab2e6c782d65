//go:build linux || freebsd

package server

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// iovecs holds the iovecs of one writev, made by the system call itself:
// the kernel ABI is stable here, and the slice is reused, so a writev
// costs no allocation.
type iovecs struct {
	v []unix.Iovec
}

// load lays bufs out as iovecs and returns their length in bytes. Every
// buffer is non-empty (build leaves out empty payloads).
func (s *iovecs) load(bufs [][]byte) (want int) {
	s.v = s.v[:0]
	for _, b := range bufs {
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		s.v = append(s.v, v)
		want += len(b)
	}
	return want
}

// writev is the writev system call on the loaded iovecs.
func (s *iovecs) writev(fd int) (int, error) {
	if len(s.v) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&s.v[0])), uintptr(len(s.v)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// release drops the iovecs' pointers into the last batch's buffers.
func (s *iovecs) release() {
	clear(s.v)
	s.v = s.v[:0]
}
