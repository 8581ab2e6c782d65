package events

import "strings"

// matchPattern reports whether typ matches pattern, where '*' matches any
// run of characters (possibly empty) and every other byte matches itself.
// It runs in O(len(pattern) + len(typ)) time; see matchPatternWork.
func matchPattern(pattern, typ string) bool {
	matched, _ := matchPatternWork(pattern, typ)
	return matched
}

// matchPatternWork is matchPattern, and the bytes of typ it compared or
// searched (its work, which the linearity test bounds).
//
// A pattern is literal segments between stars: the first must start typ,
// the last must end it, and those in between must appear in that order,
// without overlapping, in what is left. Taking the leftmost occurrence of
// each is never wrong (it leaves the most room for the next), so there is
// no backtracking: each byte of typ is searched once. The classic matcher
// that backtracks to the last star took O(len(pattern) * len(typ)): a
// 1 KiB pattern such as "*aaa…ab*" against a 256 KiB type of a's, both
// chosen by clients, cost 2.6×10⁸ comparisons per broadcast.
func matchPatternWork(pattern, typ string) (matched bool, work int) {
	first := strings.IndexByte(pattern, '*')
	if first < 0 {
		return pattern == typ, min(len(pattern), len(typ))
	}
	last := strings.LastIndexByte(pattern, '*')
	prefix, suffix := pattern[:first], pattern[last+1:]
	if len(prefix)+len(suffix) > len(typ) {
		return false, 0
	}
	work = len(prefix) + len(suffix)
	if !strings.HasPrefix(typ, prefix) || !strings.HasSuffix(typ, suffix) {
		return false, work
	}
	rest := typ[len(prefix) : len(typ)-len(suffix)]
	for middle := pattern[first+1 : max(first+1, last)]; middle != ""; {
		var seg string
		seg, middle, _ = strings.Cut(middle, "*")
		if seg == "" {
			continue
		}
		i := indexLinear(rest, seg)
		if i < 0 {
			return false, work + len(rest)
		}
		work += i + len(seg)
		rest = rest[i+len(seg):]
	}
	return true, work
}

// shortSegment is the longest segment searched with strings.Index: up to
// it, strings.Index compares at most that many bytes per byte of s (with
// vector instructions). Longer segments would take its Rabin-Karp path,
// linear only on average, so they get Knuth-Morris-Pratt instead.
const shortSegment = 16

// indexLinear returns the index of the first sep in s, or -1, in
// O(len(s) + len(sep)) time whatever the bytes.
func indexLinear(s, sep string) int {
	if len(sep) <= shortSegment || len(sep) > len(s) {
		return strings.Index(s, sep)
	}
	// border[i] is the length of the longest proper prefix of sep[:i+1]
	// that is also its suffix. A pattern is at most MaxPatternLen
	// characters (4 bytes each in UTF-8), so the array stays on the stack.
	var buf [4 * MaxPatternLen]int32
	border := buf[:0]
	if len(sep) > len(buf) {
		border = make([]int32, 0, len(sep))
	}
	border = append(border, 0)
	for i, k := 1, int32(0); i < len(sep); i++ {
		for k > 0 && sep[i] != sep[k] {
			k = border[k-1]
		}
		if sep[i] == sep[k] {
			k++
		}
		border = append(border, k)
	}
	for i, k := 0, int32(0); i < len(s); i++ {
		for k > 0 && s[i] != sep[k] {
			k = border[k-1]
		}
		if s[i] == sep[k] {
			k++
		}
		if int(k) == len(sep) {
			return i - len(sep) + 1
		}
	}
	return -1
}
