package jsontext_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

func validUTF8(s string) bool { return utf8.ValidString(s) }

// FuzzScan checks the scanner against encoding/json: Valid agrees with
// json.Valid; a valid object's members and an array's elements are the
// tokens json.Decoder and json.RawMessage see; a valid string token
// unquotes as json.Unmarshal does (for valid UTF-8); and AppendQuote of any
// input is valid JSON of QuotedLen bytes that decodes back to the input
// (with invalid UTF-8 replaced, as encoding/json does).
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`null`, ` true `, `-0.5e-3`, `"a\u00e9\ud83d\ude00\/"`, `[1,[2,[3]],{"a":"b"}]`,
		`{"a":1,"a":2,"spec\u0076ersion":"1.0","data":{"x":[null]}}`, `{"a":1,}`, `[1 2]`,
		`"\ud800\u0041"`, "\"\xff\"", `{"":[]}`, `[[[[[[[[]]]]]]]]`, `1e`, `{"a"`, `tru`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := jsontext.Scanner{}
		valid := sc.Valid(data)
		if valid != json.Valid(data) {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", data, valid, !valid)
		}
		i := jsontext.SkipSpace(data, 0)
		end, err := sc.Value(data, i)
		if err != nil {
			var se *jsontext.SyntaxError
			if !errors.As(err, &se) || se.Reason == "" || se.Offset < 0 || se.Offset > len(data) || valid {
				t.Fatalf("Value(%q): error %#v", data, err)
			}
		} else if end <= i || end > len(data) || valid != (jsontext.SkipSpace(data, end) == len(data)) {
			t.Fatalf("Value(%q) = %d", data, end)
		}
		if valid {
			checkTokens(t, data[i:end])
		}
		// Calls at any offset must not panic.
		for _, at := range []int{-1, len(data) / 2, len(data)} {
			_, _ = sc.Value(data, at)
			_, _ = sc.Members(data, at, func(_, _ []byte) {})
			_, _ = sc.Elements(data, at, func([]byte) {})
		}

		// Unquote accepts exactly the valid string tokens.
		u, ok := jsontext.Unquote(data)
		if wantOK := len(data) > 0 && data[0] == '"' && json.Valid(data) && data[len(data)-1] == '"'; ok != wantOK {
			t.Fatalf("Unquote(%q) ok = %v, want %v", data, ok, wantOK)
		}
		if ok && utf8.Valid(data) {
			if want, err := stdUnquote(string(data)); err != nil || u != want {
				t.Fatalf("Unquote(%q) = %q, encoding/json says %q (%v)", data, u, want, err)
			}
		}

		s := string(data)
		q := jsontext.AppendQuote(nil, s)
		if len(q) != jsontext.QuotedLen(s) || !json.Valid(q) || !utf8.Valid(q) {
			t.Fatalf("AppendQuote(%q) = %s (QuotedLen %d)", s, q, jsontext.QuotedLen(s))
		}
		back, ok := jsontext.Unquote(q)
		marshaled, _ := json.Marshal(s)
		if want, _ := stdUnquote(string(marshaled)); !ok || back != want {
			t.Fatalf("AppendQuote(%q) = %s, which unquotes to %q; want %q", s, q, back, want)
		}
	})
}

// checkTokens compares the members or elements of a valid value with what
// encoding/json sees.
func checkTokens(t *testing.T, value []byte) {
	sc := jsontext.Scanner{}
	switch jsontext.KindOf(value) {
	case jsontext.Object:
		dec := json.NewDecoder(bytes.NewReader(value))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		end, err := sc.Members(value, 0, func(k, v []byte) {
			tok, err := dec.Token()
			key, ok := jsontext.Unquote(k)
			if err != nil || !ok || utf8.Valid(k) && tok != key {
				t.Fatalf("member key %s = %q; encoding/json says %q (%v)", k, key, tok, err)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil || !bytes.Equal(raw, v) {
				t.Fatalf("member %s value %s; encoding/json says %s (%v)", k, v, raw, err)
			}
		})
		if err != nil || end != len(value) || dec.More() {
			t.Fatalf("Members(%q) = %d, %v (more: %v)", value, end, err, dec.More())
		}
	case jsontext.Array:
		var want []json.RawMessage
		if err := json.Unmarshal(value, &want); err != nil {
			t.Fatal(err)
		}
		n := 0
		end, err := sc.Elements(value, 0, func(v []byte) {
			if n >= len(want) || !bytes.Equal(want[n], v) {
				t.Fatalf("element %d of %q is %s", n, value, v)
			}
			n++
		})
		if err != nil || end != len(value) || n != len(want) {
			t.Fatalf("Elements(%q) = %d, %v after %d of %d", value, end, err, n, len(want))
		}
	}
}
