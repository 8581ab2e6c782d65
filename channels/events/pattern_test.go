package events

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

func TestMatchPattern(t *testing.T) {
	for _, tt := range []struct {
		pattern, typ string
		want         bool
	}{
		{"*", "", true},
		{"*", "anything.at.all", true},
		{"com.example.*", "com.example.a", true},
		{"com.example.*", "com.example.a.b", true},
		{"com.example.*", "com.example.", true},
		{"com.example.*", "com.example", false},
		{"com.example.*", "com.examplex.a", false},
		{"com.acme.order.created", "com.acme.order.created", true},
		{"com.acme.order.created", "com.acme.order.created2", false},
		{"com.acme.order.created", "com.acme.order", false},
		{"*.created", "a.b.created", true},
		{"*.created", "a.b.created.not", false},
		{"a*b*c", "a--b--c", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"a**b", "ab", true},
		{"a.b", "a-b", false}, // '.' is literal
		{"a?", "ab", false},   // '?' is literal
		{"*a*a*a*a*b", strings.Repeat("a", 200), false},
	} {
		if got := matchPattern(tt.pattern, tt.typ); got != tt.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", tt.pattern, tt.typ, got, tt.want)
		}
	}
}

// matchBacktrack is the classic wildcard matcher that backtracks to the
// last star: O(len(pattern) * len(typ)), but short and evidently right. It
// is the reference matchPattern is checked against.
func matchBacktrack(pattern, typ string) bool {
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

// TestMatchPatternAgreesWithBacktracking compares matchPattern with the
// reference on every pattern and type of up to 5 and 7 bytes over a small
// alphabet, and on random longer ones whose segments take the
// Knuth-Morris-Pratt path.
func TestMatchPatternAgreesWithBacktracking(t *testing.T) {
	check := func(p, typ string) {
		t.Helper()
		if got, want := matchPattern(p, typ), matchBacktrack(p, typ); got != want {
			t.Fatalf("matchPattern(%q, %q) = %v, want %v", p, typ, got, want)
		}
	}
	// all returns every string of up to n bytes of alphabet.
	all := func(alphabet string, n int) []string {
		out := []string{""}
		for from := 0; n > 0; n-- {
			to := len(out)
			for _, s := range out[from:to] {
				for _, c := range alphabet {
					out = append(out, s+string(c))
				}
			}
			from = to
		}
		return out
	}
	types := all("ab", 7)
	if len(types) != 255 {
		t.Fatalf("%d types, want 255", len(types))
	}
	for _, p := range all("ab*", 5) {
		for _, typ := range types {
			check(p, typ)
		}
	}
	rng := rand.New(rand.NewPCG(16, 16))
	word := func(n int, alphabet string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 20000 {
		typ := word(rng.IntN(120), "ab")
		var p strings.Builder
		for range rng.IntN(4) + 1 {
			p.WriteString("*")
			p.WriteString(word(rng.IntN(3*shortSegment), "ab"))
		}
		if rng.IntN(2) == 0 { // half of them: a segment taken from the type
			i := rng.IntN(len(typ) + 1)
			p.WriteString("*" + typ[i:min(len(typ), i+shortSegment+1+rng.IntN(20))])
		}
		p.WriteString("*"[:rng.IntN(2)])
		check(p.String(), typ)
	}
}

// FuzzMatchPattern checks matchPattern against the backtracking reference.
func FuzzMatchPattern(f *testing.F) {
	f.Add("com.*.created", "com.example.created")
	f.Add("*a*"+strings.Repeat("ab", 20)+"*b", strings.Repeat("ab", 40))
	f.Fuzz(func(t *testing.T, pattern, typ string) {
		if len(pattern) > 300 || len(typ) > 3000 {
			return // the reference is quadratic
		}
		if got, want := matchPattern(pattern, typ), matchBacktrack(pattern, typ); got != want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", pattern, typ, got, want)
		}
	})
}

func TestPatternSetsAreInternedAndReleased(t *testing.T) {
	var s patternSets
	a := s.acquire([]string{"x", "y"})
	b := s.acquire([]string{"x", "y"})
	c := s.acquire([]string{"x\x00y"})
	d := s.acquire([]string{"1:x"})
	if a != b {
		t.Error("equal lists got different sets")
	}
	if a == c || c == d || a == d {
		t.Error("different lists share a set")
	}
	if s.acquire(nil) != nil {
		t.Error("empty list got a set")
	}
	s.release(a)
	s.release(c)
	s.release(d)
	if s.len() != 1 {
		t.Errorf("%d sets held, want 1", s.len())
	}
	s.release(b)
	if s.len() != 0 {
		t.Errorf("%d sets held, want 0", s.len())
	}
}

func TestPatternSetMatchesOncePerBroadcast(t *testing.T) {
	ps := &patternSet{patterns: []string{"a.*"}}
	calls := 0
	typ := func(*pubsub.Broadcast) (string, bool) { calls++; return "a.b", true }
	b := pubsub.NewBroadcast("events:r", EventCloudEvent, []byte(`{}`))
	for range 1000 {
		if !ps.matches(b, typ) {
			t.Fatal("no match")
		}
	}
	if calls != 1 {
		t.Errorf("type read %d times for one broadcast, want 1", calls)
	}
	b2 := pubsub.NewBroadcast("events:r", EventCloudEvent, []byte(`{}`))
	ps.matches(b2, func(*pubsub.Broadcast) (string, bool) { return "z", true })
	if ps.matches(b2, typ) {
		t.Error("memo of the second broadcast wrong")
	}
}

func TestURIChecks(t *testing.T) {
	for _, tt := range []struct {
		s        string
		ref, abs bool
	}{
		{"https://example.com/a?b=c", true, true},
		{"https://example.com/a#f", true, false},
		{"urn:isbn:0451450523", true, true},
		{"mailto:a@b.c", true, true},
		{"/relative/path", true, false},
		{"relative", true, false},
		{"./a:b", true, false},
		{"//host/path", true, false},
		{"?q", true, false},
		{"#f", true, false},
		{"http://[::1]:80/", true, true},
		{"http://[v7.abc]/", true, true},
		{"http://[fe80::1%25en0]/", false, false},
		{"http://[::1/", false, false},
		{"http://h:8a/", false, false},
		{"http://ex%41mple.com/", true, true},
		{"http://u@h@x/", false, false},
		{"a b", false, false},
		{"a%2", false, false},
		{"a%zz", false, false},
		{"1a:b", false, false},
		{":b", false, false},
		{"a/b[1]", false, false},
		{"é", false, false},
		{"h://a/b#c#d", false, false},
	} {
		if got := isURIReference(tt.s); got != tt.ref {
			t.Errorf("isURIReference(%q) = %v, want %v", tt.s, got, tt.ref)
		}
		if got := isAbsoluteURI(tt.s); got != tt.abs {
			t.Errorf("isAbsoluteURI(%q) = %v, want %v", tt.s, got, tt.abs)
		}
	}
}

func ExampleValidate() {
	_, err := Validate([]byte(`{"specversion":"1.0","id":"","type":"com.example.a"}`), 0)
	fmt.Println(err)
	for _, p := range err.(*InvalidEventError).Problems {
		fmt.Printf("%s: %s\n", p.Attribute, p.Message)
	}
	// Output:
	// invalid CloudEvent: id must not be empty (and 1 more problem)
	// id: must not be empty
	// source: is required
}
