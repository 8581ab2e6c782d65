package phxtoken

import (
	"bytes"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeTerm(t *testing.T) {
	big2to64, _ := new(big.Int).SetString("18446744073709551616", 10)
	tests := []struct {
		name string
		in   []byte
		want any
	}{
		{"SMALL_INTEGER", []byte{131, 97, 255}, int64(255)},
		{"INTEGER negative", []byte{131, 98, 0xff, 0xff, 0xff, 0xfe}, int64(-2)},
		{"SMALL_BIG signed_at", []byte{131, 110, 6, 0, 0, 0x68, 0xe5, 0xcf, 0x8b, 1}, int64(1_700_000_000_000)},
		{"SMALL_BIG negative", []byte{131, 110, 1, 1, 5}, int64(-5)},
		{"SMALL_BIG min int64", []byte{131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0x80}, int64(-1 << 63)},
		{"SMALL_BIG 2^64", []byte{131, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, big2to64},
		{"SMALL_BIG leading zeros", []byte{131, 110, 10, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0}, int64(7)},
		{"SMALL_BIG zero digits", []byte{131, 110, 0, 0}, int64(0)},
		{"LARGE_BIG", []byte{131, 111, 0, 0, 0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1}, new(big.Int).Neg(big2to64)},
		{"NEW_FLOAT", []byte{131, 70, 0x40, 0x04, 0, 0, 0, 0, 0, 0}, 2.5},
		{"BINARY", []byte{131, 109, 0, 0, 0, 2, 'h', 'i'}, "hi"},
		{"BINARY empty", []byte{131, 109, 0, 0, 0, 0}, ""},
		{"ATOM_EXT nil", []byte{131, 100, 0, 3, 'n', 'i', 'l'}, nil},
		{"ATOM_EXT Latin-1", []byte{131, 100, 0, 4, 'c', 'a', 'f', 0xe9}, Atom("café")},
		{"SMALL_ATOM_EXT", []byte{131, 115, 2, 'o', 'k'}, Atom("ok")},
		{"ATOM_UTF8 true", []byte{131, 118, 0, 4, 't', 'r', 'u', 'e'}, true},
		{"SMALL_ATOM_UTF8 false", []byte{131, 119, 5, 'f', 'a', 'l', 's', 'e'}, false},
		{"SMALL_ATOM_UTF8 non-Latin-1", append([]byte{131, 119, 4}, "ÿā"...), Atom("ÿā")},
		{"SMALL_TUPLE", []byte{131, 104, 2, 97, 1, 97, 2}, Tuple{int64(1), int64(2)}},
		{"SMALL_TUPLE empty", []byte{131, 104, 0}, Tuple{}},
		{"LARGE_TUPLE", []byte{131, 105, 0, 0, 0, 1, 106}, Tuple{[]any{}}},
		{"NIL", []byte{131, 106}, []any{}},
		{"STRING is a list", []byte{131, 107, 0, 2, 1, 200}, []any{int64(1), int64(200)}},
		{"LIST", []byte{131, 108, 0, 0, 0, 2, 97, 1, 109, 0, 0, 0, 1, 'x', 106}, []any{int64(1), "x"}},
		{"MAP atom keys", []byte{131, 116, 0, 0, 0, 1, 119, 2, 'i', 'd', 97, 7}, map[any]any{Atom("id"): int64(7)}},
		{"MAP string key", []byte{131, 116, 0, 0, 0, 1, 109, 0, 0, 0, 1, 'k', 106}, map[any]any{"k": []any{}}},
		{"MAP empty", []byte{131, 116, 0, 0, 0, 0}, map[any]any{}},
		{"MAP nil key", []byte{131, 116, 0, 0, 0, 1, 119, 3, 'n', 'i', 'l', 97, 1}, map[any]any{nil: int64(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeTerm(tc.in, 1<<20)
			if err != nil {
				t.Fatalf("decodeTerm(% x): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decodeTerm(% x) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestDecodeTermRefuses(t *testing.T) {
	deep := bytes.Repeat([]byte{104, 1}, maxDepth+1)
	deep = append(append([]byte{131}, deep...), 106)
	okDeep := bytes.Repeat([]byte{104, 1}, maxDepth)
	okDeep = append(append([]byte{131}, okDeep...), 106)
	if _, err := decodeTerm(okDeep, 0); err != nil {
		t.Fatalf("nesting of %d refused: %v", maxDepth, err)
	}
	longAtom := append([]byte{131, 118, 1, 0}, strings.Repeat("a", 256)...)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"version only", []byte{131}},
		{"wrong version", []byte{130, 97, 1}},
		{"unknown tag", []byte{131, 1}},
		{"PID", []byte{131, 88, 119, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"fun", []byte{131, 113, 119, 1, 'm', 119, 1, 'f', 97, 0}},
		{"old FLOAT_EXT", append([]byte{131, 99}, make([]byte, 31)...)},
		{"BIT_BINARY", []byte{131, 77, 0, 0, 0, 1, 3, 0xe0}},
		{"truncated INTEGER", []byte{131, 98, 0, 0}},
		{"truncated SMALL_BIG", []byte{131, 110, 6, 0, 0, 0x68}},
		{"bad big sign", []byte{131, 110, 1, 2, 1}},
		{"LARGE_BIG too large", append([]byte{131, 111, 0, 0, 4, 1, 0}, make([]byte, 1025)...)},
		{"BINARY length over input", []byte{131, 109, 0xff, 0xff, 0xff, 0xff, 'a'}},
		{"STRING length over input", []byte{131, 107, 0, 3, 1}},
		{"LIST length over input", []byte{131, 108, 0x7f, 0xff, 0xff, 0xff, 106}},
		{"LARGE_TUPLE arity over input", []byte{131, 105, 0xff, 0xff, 0xff, 0xff}},
		{"MAP arity over input", []byte{131, 116, 0x10, 0, 0, 0, 97, 1, 97, 1}},
		{"improper list", []byte{131, 108, 0, 0, 0, 1, 97, 1, 97, 2}},
		{"list without tail", []byte{131, 108, 0, 0, 0, 1, 97, 1}},
		{"duplicate map key", []byte{131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2}},
		{"tuple map key", []byte{131, 116, 0, 0, 0, 1, 104, 0, 97, 1}},
		{"list map key", []byte{131, 116, 0, 0, 0, 1, 106, 97, 1}},
		{"big map key", []byte{131, 116, 0, 0, 0, 1, 110, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 97, 1}},
		{"NaN", []byte{131, 70, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}},
		{"infinity float", []byte{131, 70, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"atom invalid UTF-8", []byte{131, 119, 1, 0xff}},
		{"atom too long", longAtom},
		{"Latin-1 atom too long", append([]byte{131, 100, 1, 0}, strings.Repeat("a", 256)...)},
		{"trailing byte", []byte{131, 97, 1, 0}},
		{"too deep", deep},
		{"compressed inside a term", []byte{131, 104, 1, 80, 0, 0, 0, 2, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeTerm(tc.in, 1<<20)
			var te *termError
			if !errors.As(err, &te) {
				t.Fatalf("decodeTerm(% x) = %#v, %v; want a termError", tc.in, got, err)
			}
		})
	}
}

// TestDecodeAllocationBound checks that a short input cannot make the
// decoder allocate much: lengths are checked against the input before any
// make.
func TestDecodeAllocationBound(t *testing.T) {
	for name, in := range map[string][]byte{
		"huge list":  {131, 108, 0x7f, 0xff, 0xff, 0xff, 106},
		"huge map":   {131, 116, 0x7f, 0xff, 0xff, 0xff, 106},
		"huge tuple": {131, 105, 0x7f, 0xff, 0xff, 0xff, 106},
		"huge big":   {131, 111, 0x7f, 0xff, 0xff, 0xff, 0},
		"huge zlib":  {131, 80, 0xff, 0xff, 0xff, 0xff, 0x78, 0x9c},
	} {
		allocs := testing.AllocsPerRun(10, func() { decodeTerm(in, 1<<20) })
		if allocs > 10 {
			t.Errorf("%s: %v allocations", name, allocs)
		}
	}
}
