package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// vars are the values a case's text refers to as $name or ${name}: the
// settings, $uid (unique per case run), $i in repeat blocks, and what
// earlier steps captured.
type vars map[string]string

// expand replaces every variable reference in s. $pad(N) becomes N "x"
// characters, N being a number or a variable. An unknown variable is an
// error: a case must not silently send "$typo".
func (v vars) expand(s string) (string, error) {
	var err error
	out := varRefRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "$pad(") {
			arg := strings.TrimSpace(m[len("$pad(") : len(m)-1])
			if strings.HasPrefix(arg, "$") {
				val, ok := v.lookup(arg)
				if !ok {
					err = fmt.Errorf("unknown variable %s", arg)
					return m
				}
				arg = val
			}
			n, perr := strconv.Atoi(arg)
			if perr != nil || n < 0 || n > 64<<20 {
				err = fmt.Errorf("%s: want a size up to 64 MiB", m)
				return m
			}
			return strings.Repeat("x", n)
		}
		val, ok := v.lookup(m)
		if !ok {
			err = fmt.Errorf("unknown variable %s", m)
			return m
		}
		return val
	})
	return out, err
}

func (v vars) lookup(ref string) (string, bool) {
	name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(ref, "$"), "{"), "}")
	val, ok := v[name]
	return val, ok
}

// duration reads a duration expression: terms joined by "+", each a Go
// duration or a variable holding one, optionally multiplied or divided by
// numbers: "2s", "$idle_timeout*3/2+1s".
func (v vars) duration(expr string) (time.Duration, error) {
	s, err := v.expand(expr)
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, term := range strings.Split(s, "+") {
		d, err := durationTerm(strings.TrimSpace(term))
		if err != nil {
			return 0, fmt.Errorf("duration %q: %v", expr, err)
		}
		total += d
	}
	return total, nil
}

func durationTerm(term string) (time.Duration, error) {
	i := strings.IndexAny(term, "*/")
	base := term
	if i >= 0 {
		base = term[:i]
	}
	d, err := time.ParseDuration(base)
	if err != nil {
		return 0, err
	}
	f := float64(d)
	for rest := term[len(base):]; rest != ""; {
		op := rest[0]
		rest = rest[1:]
		j := strings.IndexAny(rest, "*/")
		num := rest
		if j >= 0 {
			num = rest[:j]
		}
		rest = rest[len(num):]
		x, err := strconv.ParseFloat(num, 64)
		if err != nil || x <= 0 {
			return 0, fmt.Errorf("factor %q", num)
		}
		if op == '*' {
			f *= x
		} else {
			f /= x
		}
	}
	return time.Duration(f), nil
}
