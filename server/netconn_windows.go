package server

import "syscall"

// peerResetErrnos: Winsock reports a reset with its own codes, not the
// invented syscall.ECONNRESET.
var peerResetErrnos = []syscall.Errno{syscall.WSAECONNRESET, syscall.WSAECONNABORTED}
