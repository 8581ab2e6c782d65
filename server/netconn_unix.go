//go:build !windows

package server

import "syscall"

// peerResetErrnos: none besides ECONNRESET, EPIPE and ECONNABORTED.
var peerResetErrnos []syscall.Errno
