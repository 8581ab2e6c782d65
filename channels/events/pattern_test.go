package events

import (
	"fmt"
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
