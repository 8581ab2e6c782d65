// Package proc reads a process's resident memory, CPU time and start time
// from Linux's /proc. Elsewhere every reading of /proc fails with
// ErrUnsupported.
package proc

import (
	"errors"
	"runtime"
)

// ErrUnsupported is the error of every /proc reading off Linux.
var ErrUnsupported = errors.New("proc: no Linux /proc on " + runtime.GOOS + ": a process's CPU, memory and identity cannot be read here")

// ErrExited is StartTime's error for a process that has exited but whose
// parent has not reaped it yet (a zombie).
var ErrExited = errors.New("proc: the process has exited")
