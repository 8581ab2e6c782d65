package events

// matchPattern reports whether typ matches pattern, where '*' matches any
// run of characters (possibly empty) and every other byte matches itself.
// It backtracks only to the last '*', so it runs in O(len(pattern) *
// len(typ)) at worst and usually linearly.
func matchPattern(pattern, typ string) bool {
	p, t := 0, 0
	star, mark := -1, 0
	for t < len(typ) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, t
			p++
		case p < len(pattern) && pattern[p] == typ[t]:
			p++
			t++
		case star >= 0:
			p = star + 1
			mark++
			t = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
