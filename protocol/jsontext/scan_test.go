package jsontext_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

func TestValue(t *testing.T) {
	tests := []struct {
		in      string
		end     int    // for valid values
		reason  string // for errors
		offset  int
		tooDeep bool
	}{
		{in: `null`, end: 4},
		{in: `true`, end: 4},
		{in: `false  `, end: 5},
		{in: `0`, end: 1},
		{in: `-0.5e+10,`, end: 8},
		{in: `12E3]`, end: 4},
		{in: `"a\"b\u00e9\/"x`, end: 14},
		{in: `[]`, end: 2},
		{in: `[ 1 , [2] , {"a" : [ ] } ] `, end: 26},
		{in: `{}`, end: 2},
		{in: "{\t\"a\"\n:\r1}", end: 10},
		{in: `{"a":{"b":[null,true,false,"c",1.5]}}`, end: 37},
		{in: "\"\xff\xfe\"", end: 4}, // UTF-8 is not the scanner's business

		{in: ``, reason: "unexpected end of input", offset: 0},
		{in: ` 1`, reason: "unexpected character", offset: 0},
		{in: `x`, reason: "unexpected character", offset: 0},
		{in: `nul`, reason: "invalid literal", offset: 0},
		{in: `tru e`, reason: "invalid literal", offset: 0},
		{in: `-`, reason: "invalid number", offset: 1},
		{in: `-a`, reason: "invalid number", offset: 1},
		{in: `1.`, reason: "invalid number", offset: 2},
		{in: `1.e5`, reason: "invalid number", offset: 2},
		{in: `1e`, reason: "invalid number", offset: 2},
		{in: `1e+`, reason: "invalid number", offset: 3},
		{in: `"abc`, reason: "unterminated string", offset: 4},
		{in: `"abc\`, reason: "unterminated string", offset: 5},
		{in: `"\x"`, reason: "invalid escape", offset: 2},
		{in: `"\u12"`, reason: `invalid \u escape`, offset: 2},
		{in: `"\u12g4"`, reason: `invalid \u escape`, offset: 2},
		{in: "\"a\nb\"", reason: "control character in string", offset: 2},
		{in: `[1,]`, reason: "unexpected character", offset: 3},
		{in: `[1 2]`, reason: "expected , or ] in array", offset: 3},
		{in: `[1`, reason: "unterminated array", offset: 2},
		{in: `[`, reason: "unexpected end of input", offset: 1},
		{in: `{1:2}`, reason: "expected object key", offset: 1},
		{in: `{"a",1}`, reason: "expected : after object key", offset: 4},
		{in: `{"a":1,}`, reason: "expected object key", offset: 7},
		{in: `{"a":1 "b":2}`, reason: "expected , or } in object", offset: 7},
		{in: `{"a":1`, reason: "unterminated object", offset: 6},
		{in: `{"a":`, reason: "unexpected end of input", offset: 5},
	}
	for _, tt := range tests {
		end, err := jsontext.Scanner{}.Value([]byte(tt.in), 0)
		if tt.reason == "" {
			if err != nil || end != tt.end {
				t.Errorf("Value(%q) = %d, %v; want %d, nil", tt.in, end, err, tt.end)
			}
			continue
		}
		var se *jsontext.SyntaxError
		if !errors.As(err, &se) || se.Reason != tt.reason || se.Offset != tt.offset || se.TooDeep || end != tt.offset {
			t.Errorf("Value(%q) = %d, %#v; want a SyntaxError %q at %d", tt.in, end, err, tt.reason, tt.offset)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := jsontext.Scanner{}.Value([]byte(`[1,,]`), 0)
	if err == nil || err.Error() != "jsontext: unexpected character at offset 3" {
		t.Errorf("error %v", err)
	}
}

func TestValueOffsets(t *testing.T) {
	data := []byte(`{"a":[1, "x"]}`)
	if end, err := (jsontext.Scanner{}).Value(data, 5); err != nil || end != 13 {
		t.Errorf("Value at 5 = %d, %v; want 13", end, err)
	}
	for _, i := range []int{-1, len(data), len(data) + 5} {
		if _, err := (jsontext.Scanner{}).Value(data, i); err == nil {
			t.Errorf("Value at %d: no error", i)
		}
	}
}

func TestMaxDepth(t *testing.T) {
	nest := func(n int, open, close string) []byte {
		return []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
	}
	sc := jsontext.Scanner{MaxDepth: 3}
	for _, tt := range []struct {
		in      string
		tooDeep bool
		offset  int
	}{
		{in: `[[[1]]]`},
		{in: `[[[[1]]]]`, tooDeep: true, offset: 3},
		{in: `{"a":{"b":{"c":1}}}`},
		{in: `{"a":{"b":{"c":{}}}}`, tooDeep: true, offset: 15},
		{in: `[{"a":[]}]`},
		{in: `[{"a":[[]]}]`, tooDeep: true, offset: 7},
	} {
		_, err := sc.Value([]byte(tt.in), 0)
		var se *jsontext.SyntaxError
		switch {
		case !tt.tooDeep && err != nil:
			t.Errorf("%s: %v", tt.in, err)
		case tt.tooDeep && (!errors.As(err, &se) || !se.TooDeep || se.Offset != tt.offset || se.Reason == ""):
			t.Errorf("%s: %#v; want TooDeep at %d", tt.in, err, tt.offset)
		}
	}

	// The members of an object and the elements of an array are one level
	// down, as in Value.
	if _, err := sc.Members([]byte(`{"a":[[1]]}`), 0, nil); err != nil {
		t.Errorf("Members at the limit: %v", err)
	}
	if _, err := sc.Members([]byte(`{"a":[[[1]]]}`), 0, nil); err == nil {
		t.Errorf("Members past the limit: no error")
	}
	if _, err := sc.Elements([]byte(`[[[1]]]`), 0, nil); err != nil {
		t.Errorf("Elements at the limit: %v", err)
	}
	if _, err := sc.Elements([]byte(`[[[[1]]]]`), 0, nil); err == nil {
		t.Errorf("Elements past the limit: no error")
	}

	// The zero Scanner has the limit of encoding/json.
	for _, n := range []int{jsontext.DefaultMaxDepth, jsontext.DefaultMaxDepth + 1} {
		for _, in := range [][]byte{nest(n, "[", "]"), nest(n-1, `{"k":`, "}")} {
			if got, want := (jsontext.Scanner{}).Valid(in), json.Valid(in); got != want {
				t.Errorf("depth %d: Valid = %v, json.Valid = %v", n, got, want)
			}
		}
	}
}

func TestValid(t *testing.T) {
	for in, want := range map[string]bool{
		` {"a": [1, 2]} `: true,
		"\t\r\n1\n":       true,
		`1 2`:             false,
		`{} x`:            false,
		``:                false,
		`   `:             false,
		`"\ud800"`:        true, // a lone surrogate escape is valid syntax
	} {
		if got := (jsontext.Scanner{}).Valid([]byte(in)); got != want {
			t.Errorf("Valid(%q) = %v, want %v", in, got, want)
		}
	}
}

type pair struct{ key, value string }

func TestMembers(t *testing.T) {
	tests := []struct {
		in   string
		at   int
		want []pair
		end  int
	}{
		{in: `{}`, end: 2},
		{in: ` { } `, at: 1, end: 4},
		{in: `{"a":1,"b" : [1, {"c":2}] ,"a":"x"}`, want: []pair{{`"a"`, `1`}, {`"b"`, `[1, {"c":2}]`}, {`"a"`, `"x"`}}, end: 35},
		{in: `{"spec\u0076ersion":"1\u002e0"}tail`, want: []pair{{`"spec\u0076ersion"`, `"1\u002e0"`}}, end: 31},
		{in: `[{"a":null}]`, at: 1, want: []pair{{`"a"`, `null`}}, end: 11},
	}
	for _, tt := range tests {
		var got []pair
		end, err := jsontext.Scanner{}.Members([]byte(tt.in), tt.at, func(k, v []byte) {
			if cap(k) != len(k) || cap(v) != len(v) {
				t.Errorf("%s: token capacity reaches past the token", tt.in)
			}
			got = append(got, pair{string(k), string(v)})
		})
		if err != nil || end != tt.end || !equalPairs(got, tt.want) {
			t.Errorf("Members(%q, %d) = %d, %v, %q; want %d, nil, %q", tt.in, tt.at, end, err, got, tt.end, tt.want)
		}
	}
	for _, in := range []string{``, `[]`, `"{}"`, `{"a":1,}`, `{"a":1`, ` {}`} {
		if _, err := (jsontext.Scanner{}).Members([]byte(in), 0, nil); err == nil {
			t.Errorf("Members(%q): no error", in)
		}
	}
	// Members called back for what came before the fault.
	n := 0
	if _, err := (jsontext.Scanner{}).Members([]byte(`{"a":1,"b":2,"c":x}`), 0, func(_, _ []byte) { n++ }); err == nil || n != 2 {
		t.Errorf("bad object: %v after %d members; want an error after 2", err, n)
	}
}

func equalPairs(a, b []pair) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestElements(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		end  int
	}{
		{in: `[]`, end: 2},
		{in: `[ ]`, end: 3},
		{in: `[null,"a\"",{"x":[1]} , -1.5e3 ,[]]`, want: []string{`null`, `"a\""`, `{"x":[1]}`, `-1.5e3`, `[]`}, end: 35},
	}
	for _, tt := range tests {
		var got []string
		end, err := jsontext.Scanner{}.Elements([]byte(tt.in), 0, func(v []byte) { got = append(got, string(v)) })
		if err != nil || end != tt.end || strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Elements(%q) = %d, %v, %q; want %d, nil, %q", tt.in, end, err, got, tt.end, tt.want)
		}
	}
	for _, in := range []string{``, `{}`, `[1,]`, `[1`, `[1 2]`} {
		if _, err := (jsontext.Scanner{}).Elements([]byte(in), 0, nil); err == nil {
			t.Errorf("Elements(%q): no error", in)
		}
	}
}

func TestSkipSpace(t *testing.T) {
	data := []byte(" \t\r\nx \n")
	for _, tt := range []struct{ i, want int }{{0, 4}, {4, 4}, {5, 7}, {7, 7}, {-1, -1}, {9, 9}} {
		if got := jsontext.SkipSpace(data, tt.i); got != tt.want {
			t.Errorf("SkipSpace(%d) = %d, want %d", tt.i, got, tt.want)
		}
	}
}

func TestKindOf(t *testing.T) {
	for in, want := range map[string]jsontext.Kind{
		`null`: jsontext.Null, `false`: jsontext.False, `true`: jsontext.True,
		`-1`: jsontext.Number, `7`: jsontext.Number, `""`: jsontext.String,
		`[]`: jsontext.Array, `{}`: jsontext.Object, ``: jsontext.Invalid, ` 1`: jsontext.Invalid, `x`: jsontext.Invalid,
	} {
		if got := jsontext.KindOf([]byte(in)); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", in, got, want)
		}
	}
	if jsontext.Object.String() != "object" || jsontext.Kind(200).String() != "invalid" {
		t.Errorf("Kind.String: %q, %q", jsontext.Object, jsontext.Kind(200))
	}
}

// TestNoAllocs checks the promise of the package doc: scanning allocates
// nothing on success.
func TestNoAllocs(t *testing.T) {
	data := []byte(`{"topic":"room:1","ref":"7","payload":{"body":[1,2.5,true,null,"\u00e9"]}}`)
	list := []byte(`[1,2]`)
	sc := jsontext.Scanner{MaxDepth: 100}
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(100, func() {
		end, err := sc.Value(data, 0)
		if err != nil || end != len(data) {
			t.Fatal(end, err)
		}
		count := 0
		if _, err := sc.Members(data, 0, func(k, v []byte) { count++ }); err != nil || count != 3 {
			t.Fatal(err, count)
		}
		if _, err := sc.Elements(list, 0, func([]byte) { count++ }); err != nil {
			t.Fatal(err)
		}
		if _, ok := jsontext.AppendUnquote(buf[:0], []byte(`"a\u00e9\n"`)); !ok {
			t.Fatal("AppendUnquote")
		}
		_ = jsontext.AppendQuote(buf[:0], "room:1\n")
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = jsontext.Unquote([]byte(`"a\u00e9\n"`)) }); n != 1 {
		t.Errorf("Unquote: %v allocations, want 1", n)
	}
}
