//go:build !unix

package proc

import "time"

// RSSKiB is not supported here.
func RSSKiB(int) (int64, error) { return 0, ErrUnsupported }

// CPU is not supported here.
func CPU(int) (time.Duration, error) { return 0, ErrUnsupported }

// OpenFiles is not known here.
func OpenFiles() uint64 { return 0 }

// BusyCPU is not supported here.
func BusyCPU() (time.Duration, error) { return 0, ErrUnsupported }

// LoadAvg is not supported here.
func LoadAvg() (float64, error) { return 0, ErrUnsupported }

// StartTime is not supported here.
func StartTime(int) (uint64, error) { return 0, ErrUnsupported }
