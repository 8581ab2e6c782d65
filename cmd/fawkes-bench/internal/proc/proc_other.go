//go:build !unix

package proc

import (
	"errors"
	"time"
)

var errUnsupported = errors.New("proc: not supported on this system")

// RSSKiB is not supported here.
func RSSKiB(int) (int64, error) { return 0, errUnsupported }

// CPU is not supported here.
func CPU(int) (time.Duration, error) { return 0, errUnsupported }

// OpenFiles is not known here.
func OpenFiles() uint64 { return 0 }

// BusyCPU is not supported here.
func BusyCPU() (time.Duration, error) { return 0, errUnsupported }

// LoadAvg is not supported here.
func LoadAvg() (float64, error) { return 0, errUnsupported }
