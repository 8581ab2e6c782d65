package jsontext_test

import (
	"encoding/json"
	"testing"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

func TestUnquote(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`""`, "", true},
		{`"plain"`, "plain", true},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t", true},
		{`"\u00e9\u20AC"`, "é€", true},
		{`"\u0000"`, "\x00", true},
		{`"\ud83d\ude00"`, "😀", true},             // a surrogate pair
		{`"\ud83d"`, "\ufffd", true},              // a lone high surrogate
		{`"\ude00x"`, "\ufffdx", true},            // a lone low surrogate
		{`"\ud83d\u0041"`, "\ufffdA", true},       // high, then no low: both kept apart
		{`"\ud83d\ud83d\ude00"`, "\ufffd😀", true}, // high, then a pair
		{"\"a\xffb\"", "a\xffb", true},            // invalid UTF-8 is kept
		{`"a\u00e9b and a long tail to pass sixty-four bytes of output ............"`, "aéb and a long tail to pass sixty-four bytes of output ............", true},

		{``, "", false},
		{`"`, "", false},
		{`abc`, "", false},
		{`1`, "", false},
		{`"a"b"`, "", false},
		{`"a" `, "", false},
		{` "a"`, "", false},
		{`"\x"`, "", false},
		{`"\u00zz"`, "", false},
		{`"\u00e`, "", false},
		{"\"a\tb\"", "", false},
	}
	for _, tt := range tests {
		got, ok := jsontext.Unquote([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Unquote(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		b, ok := jsontext.AppendUnquote([]byte("x"), []byte(tt.in))
		want := "x" + tt.want
		if string(b) != want || ok != tt.ok {
			t.Errorf("AppendUnquote(x, %q) = %q, %v; want %q, %v", tt.in, b, ok, want, tt.ok)
		}
		if var_, err := stdUnquote(tt.in); tt.ok && err == nil && json.Valid([]byte(tt.in)) && validUTF8(tt.in) && var_ != got {
			t.Errorf("Unquote(%q) = %q, encoding/json says %q", tt.in, got, var_)
		}
	}
}

func stdUnquote(tok string) (string, error) {
	var s string
	err := json.Unmarshal([]byte(tok), &s)
	return s, err
}

func TestAppendQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"room:lobby", `"room:lobby"`},
		{"a\"b\\c", `"a\"b\\c"`},
		{"\n\r\t", `"\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f\""},
		{"<&>\u2028é😀", "\"<&>\u2028é😀\""},
		{"a\xffb\xc3", `"a\ufffdb\ufffd"`},
	}
	for _, tt := range tests {
		got := jsontext.AppendQuote([]byte("x"), tt.in)
		if string(got) != "x"+tt.want {
			t.Errorf("AppendQuote(%q) = %s, want x%s", tt.in, got, tt.want)
		}
		if n := jsontext.QuotedLen(tt.in); n != len(tt.want) {
			t.Errorf("QuotedLen(%q) = %d, want %d", tt.in, n, len(tt.want))
		}
		if !json.Valid(got[1:]) {
			t.Errorf("AppendQuote(%q) = %s: not valid JSON", tt.in, got)
		}
	}
}
