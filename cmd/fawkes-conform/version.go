package main

import (
	"fmt"
	"strconv"
	"strings"
)

// version is a Phoenix release: major, minor, patch.
type version [3]int

// parseVersion reads "1", "1.8" or "1.8.12" (missing parts are 0).
func parseVersion(s string) (version, error) {
	var v version
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if len(parts) == 0 || len(parts) > 3 {
		return v, fmt.Errorf("version %q: want MAJOR[.MINOR[.PATCH]]", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("version %q: want MAJOR[.MINOR[.PATCH]]", s)
		}
		v[i] = n
	}
	return v, nil
}

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

func (v version) less(o version) bool {
	for i := range v {
		if v[i] != o[i] {
			return v[i] < o[i]
		}
	}
	return false
}

// line is the release line (major.minor) of v.
func (v version) line() version { return version{v[0], v[1], 0} }

// hasBehaviour reports whether release target has a behaviour introduced
// in since. since lists one release per line the behaviour reached: "1.8.3",
// or "1.7.22, 1.8.6" for a change released on two lines at once. A target
// has it when the earliest listed release on the target's line or a later
// line is not newer than the target: 1.7.30 and 1.8.6 have "1.7.22, 1.8.6",
// 1.8.2 and 1.6.0 do not, and 1.9.0 (past every listed line) does.
func hasBehaviour(target version, since []version) bool {
	var first *version
	for i := range since {
		s := since[i]
		if s.line().less(target.line()) {
			continue // an older line: says nothing about target's
		}
		if first == nil || s.less(*first) {
			first = &since[i]
		}
	}
	return first == nil || !target.less(*first)
}
