package etf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Integers take the form the BEAM gives them (bytes from
// :erlang.term_to_binary on OTP 25), and read back.
func TestIntegers(t *testing.T) {
	for _, tc := range []struct {
		v   any
		hex string
	}{
		{int64(0), "6100"},
		{int64(255), "61ff"},
		{int64(256), "6200000100"},
		{int64(-5), "62fffffffb"},
		{int64(math.MaxInt32), "627fffffff"},
		{int64(math.MinInt32), "6280000000"},
		{int64(math.MaxInt32 + 1), "6e040000000080"},
		{int64(123456789012), "6e0500141a99be1c"},
		{int64(-123456789012), "6e0501141a99be1c"},
		{int64(math.MaxInt64), "6e0800ffffffffffffff7f"},
		{int64(math.MinInt64), "6e08010000000000000080"},
		{bigString("18446744073709551621"), "6e09000500000000000000 01"},
	} {
		want := mustHex(t, tc.hex)
		got, err := AppendTerm(nil, tc.v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%v: %x, %v; want %x", tc.v, got, err, want)
		}
		back, err := Decode(append([]byte{Version}, want...), 0)
		if err != nil || !termEqual(back, tc.v) {
			t.Errorf("%x: decoded %v, %v; want %v", want, back, err, tc.v)
		}
	}
	big := new(big.Int).Lsh(big.NewInt(1), 8*MaxBigBytes)
	if _, err := AppendBigInt(nil, big); err == nil {
		t.Error("an integer over MaxBigBytes was encoded")
	}
}

func bigString(s string) *big.Int {
	x, _ := new(big.Int).SetString(s, 10)
	return x
}

func termEqual(a, b any) bool {
	if x, ok := a.(*big.Int); ok {
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	}
	return reflect.DeepEqual(a, b)
}

// JSON becomes the term Jason decodes it to, written as term_to_binary
// writes it (bytes from OTP 25).
func TestFromJSON(t *testing.T) {
	for _, tc := range []struct {
		json, hex string
	}{
		{`{"b":1,"a":[1,2,3]}`, "7400000002 6d0000000161 6b0003010203 6d0000000162 6101"},
		{`[1,"a",null]`, "6c00000003 6101 6d0000000161 6400036e696c 6a"},
		{`[]`, "6a"},
		{`{}`, "7400000000"},
		{`[256]`, "6c00000001 6200000100 6a"},
		{`[-1]`, "6c00000001 62ffffffff 6a"},
		{`true`, "640004747275 65"},
		{`false`, "64000566616c7365"},
		{`1.5`, "463ff8000000000000"},
		{`1E2`, "464059000000000000"},
		{`-0`, "6100"},
		{`-0.0`, "468000000000000000"},
		{`18446744073709551621`, "6e0900050000000000000001"},
		{`"h\u00e9"`, "6d00000003 68c3a9"},
		{`{"a":1,"a":2}`, "7400000001 6d0000000161 6102"},
		{"\"\xff\"", "6d00000003 efbfbd"},
		{`1e-400`, "460000000000000000"},
	} {
		got, err := AppendFromJSON(nil, []byte(tc.json))
		if want := mustHex(t, tc.hex); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %x, %v; want %x", tc.json, got, err, want)
		}
	}
	for _, bad := range []string{`1e999`, `-1e999`, `{"a":`, `[1,]`, `nul`, ``, `1 2`, strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), strings.Repeat("9", 2500)} {
		dst := []byte("kept")
		got, err := AppendFromJSON(dst, []byte(bad))
		var e *Error
		if !errors.As(err, &e) || string(got) != "kept" {
			t.Errorf("%.40q: %x, %v; want an *Error and dst as it was", bad, got, err)
		}
	}
}

// Terms become the JSON Jason encodes them to.
func TestAppendJSON(t *testing.T) {
	for _, tc := range []struct {
		term any
		json string
	}{
		{Map{{"a", int64(1)}, {Atom("b"), Atom("nil")}, {int64(3), 1.5}}, `{"a":1,"b":null,"3":1.5}`},
		{Map{{Atom("phx_ref"), "x"}, {"name", Atom("alice")}}, `{"phx_ref":"x","name":"alice"}`},
		{List{int64(104), int64(105)}, `[104,105]`},
		{List{}, `[]`},
		{List{Atom("true"), Atom("false"), 1e20, 0.1, math.Copysign(0, -1)}, `[true,false,1.0e20,0.1,-0.0]`},
		{bigString("-18446744073709551621"), `-18446744073709551621`},
		{"quote\" and \n", `"quote\" and \n"`},
		{Atom("héllo"), `"héllo"`},
	} {
		enc, err := AppendTerm([]byte{Version}, tc.term)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := NewReader(enc, 0)
		got, err := r.AppendJSON(nil)
		if err != nil || string(got) != tc.json || !r.Done() {
			t.Errorf("%v: %s, %v; want %s", tc.term, got, err, tc.json)
		}
	}
	for _, term := range []any{
		Tuple{int64(1)},
		"\xff",
		Map{{Atom("__struct__"), Atom("Elixir.Date")}},
		Map{{Tuple{}, int64(1)}},
		Map{{"\xff", int64(1)}},
		ImproperList{Elems: []any{int64(1)}, Tail: int64(2)},
		Pid{Node: "n@h", ID: 1},
		Ref{Node: "n@h", ID: []uint32{1, 2, 3}},
	} {
		enc, _ := AppendTerm([]byte{Version}, term)
		r, _ := NewReader(enc, 0)
		var e *Error
		if _, err := r.AppendJSON(nil); !errors.As(err, &e) || !e.Unrepresentable {
			t.Errorf("%#v: %v; want an Unrepresentable error", term, err)
		}
	}
}

// Floats print as io_lib_format:fwrite_g prints them (output of OTP 25).
func TestAppendErlangFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", 1: "1.0", 1.5: "1.5", 10: "10.0", 100: "100.0", 1e15: "1.0e15", 1e20: "1.0e20",
		123456789: "123456789.0", 1234567890123456789: "1.2345678901234568e18", 0.1: "0.1",
		0.0001: "0.0001", 0.00001: "1.0e-5", 1.5e-5: "1.5e-5", 123.456: "123.456",
		1.7976931348623157e308: "1.7976931348623157e308", 5e-324: "5.0e-324", 1.2345e14: "1.2345e14",
		1.2e3: "1.2e3", 1e3: "1.0e3", 9007199254740991: "9007199254740991.0", 9007199254740992: "9.007199254740992e15",
		12345678901234568: "1.2345678901234568e16", 4503599627370497: "4503599627370497.0", 3.5e8: "3.5e8", 0.0005: "0.0005", 123e-7: "1.23e-5", -2.5: "-2.5",
	} {
		if got := string(AppendErlangFloat(nil, f)); got != want {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
}

func TestCompress(t *testing.T) {
	term, _ := AppendTerm([]byte{Version}, Map{{"big", strings.Repeat("abcdefgh", 64)}})
	c := Compress(term, 6)
	if len(c) >= len(term) || c[1] != TagCompressed {
		t.Fatalf("compressed %d bytes into %d", len(term), len(c))
	}
	back, err := Decode(c, 0)
	if err != nil || !reflect.DeepEqual(back, Map{{"big", strings.Repeat("abcdefgh", 64)}}) {
		t.Fatalf("decoded %v, %v", back, err)
	}
	if _, err := Decode(c, len(term)-2); err == nil {
		t.Error("inflated past maxInflated")
	}
	small := []byte{Version, TagSmallInteger, 1}
	if got := Compress(small, 6); !bytes.Equal(got, small) {
		t.Errorf("a term that does not shrink was compressed: %x", got)
	}
}

// Hostile input fails fast with an *Error, never a panic or a large
// allocation.
func TestDecodeRefuses(t *testing.T) {
	for _, s := range []string{
		"",
		"82",
		"83",
		"836c7fffffff",         // a list longer than the input
		"83747fffffff",         // a map longer than the input
		"836d7fffffff",         // a binary longer than the input
		"8350ffffffff789c",     // inflates past any limit
		"835000000010789c4b",   // truncated zlib
		"836e0902",             // bad big integer sign
		"83467ff0000000000000", // +Inf
		"8377 02 c3",           // bad UTF-8 atom
		"836101ff",             // trailing bytes
		"83" + strings.Repeat("6c00000001", MaxDepth+2) + "6a",
		"8365", // a port: unsupported
	} {
		data := mustHex(t, s)
		if _, err := Decode(data, 1<<20); err == nil {
			t.Errorf("%s: decoded", s)
		} else if e := (*Error)(nil); !errors.As(err, &e) {
			t.Errorf("%s: %v is not an *Error", s, err)
		}
	}
}

// TestReaderList reads [1, [2]] by its headers, as server/phxtoken does:
// List returns the length, the elements follow, then the [] tail.
func TestReaderList(t *testing.T) {
	r, err := NewReader([]byte{Version, TagList, 0, 0, 0, 2, TagSmallInteger, 1, TagList, 0, 0, 0, 1, TagSmallInteger, 2, TagNil, TagNil}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.List(); n != 2 || err != nil {
		t.Fatalf("List() = %d, %v; want 2", n, err)
	}
	if i, err := r.Int(); i != 1 || err != nil {
		t.Fatalf("Int() = %d, %v; want 1", i, err)
	}
	if n, err := r.List(); n != 1 || err != nil {
		t.Fatalf("inner List() = %d, %v; want 1", n, err)
	}
	for _, skip := range []string{"2", "inner []", "outer []"} {
		if err := r.Skip(); err != nil {
			t.Fatalf("Skip %s: %v", skip, err)
		}
	}
	if !r.Done() {
		t.Fatal("bytes left over")
	}
	for name, in := range map[string][]byte{
		"not a list":        {Version, TagNil},
		"empty":             {Version},
		"length over input": {Version, TagList, 0, 0, 0, 2, TagNil},
	} {
		r, _ := NewReader(in, 0)
		at := r.Mark()
		if _, err := r.List(); err == nil {
			t.Errorf("%s: List succeeded", name)
		}
		if name != "length over input" && r.Mark() != at {
			t.Errorf("%s: List moved from %d to %d", name, at, r.Mark())
		}
	}
}
