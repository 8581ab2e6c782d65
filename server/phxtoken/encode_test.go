package phxtoken

import (
	"bytes"
	"math/big"
	"testing"
)

func TestEncodeTerm(t *testing.T) {
	minInt64 := []byte{131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0x80}
	tests := []struct {
		name  string
		in    any
		atoms AtomEncoding
		want  []byte
	}{
		{"small int", 255, AtomUTF8, []byte{131, 97, 255}},
		{"int 256", 256, AtomUTF8, []byte{131, 98, 0, 0, 1, 0}},
		{"int -1", -1, AtomUTF8, []byte{131, 98, 0xff, 0xff, 0xff, 0xff}},
		{"int 2^31", int64(1 << 31), AtomUTF8, []byte{131, 110, 4, 0, 0, 0, 0, 0x80}},
		{"int -2^31-1", int64(-1<<31 - 1), AtomUTF8, []byte{131, 110, 4, 1, 1, 0, 0, 0x80}},
		{"min int64", int64(-1 << 63), AtomUTF8, minInt64},
		{"big min int64", big.NewInt(-1 << 63), AtomUTF8, minInt64},
		{"uint64", uint64(1<<64 - 1), AtomUTF8, []byte{131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255}},
		{"nil OTP 26", nil, AtomUTF8, []byte{131, 119, 3, 'n', 'i', 'l'}},
		{"nil OTP 25", nil, AtomLatin1, []byte{131, 100, 0, 3, 'n', 'i', 'l'}},
		{"Latin-1 atom OTP 25", Atom("é"), AtomLatin1, []byte{131, 100, 0, 1, 0xe9}},
		{"UTF-8 atom OTP 25", Atom("ā"), AtomLatin1, []byte{131, 119, 2, 0xc4, 0x81}},
		{"float", 1.0, AtomUTF8, []byte{131, 70, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"string", "hi", AtomUTF8, []byte{131, 109, 0, 0, 0, 2, 'h', 'i'}},
		{"empty list", []any{}, AtomUTF8, []byte{131, 106}},
		{"nil slice", []string(nil), AtomUTF8, []byte{131, 106}},
		{"byte list is STRING", []any{1, 2}, AtomUTF8, []byte{131, 107, 0, 2, 1, 2}},
		{"list", []any{256}, AtomUTF8, []byte{131, 108, 0, 0, 0, 1, 98, 0, 0, 1, 0, 106}},
		{"tuple", Tuple{}, AtomUTF8, []byte{131, 104, 0}},
		// Keys in Erlang term order: numbers < atoms < binaries.
		{"map order", map[any]any{"a": 1, Atom("b"): 2, 3: 3, Atom("a"): 4}, AtomUTF8, []byte{131, 116, 0, 0, 0, 4,
			97, 3, 97, 3, 119, 1, 'a', 97, 4, 119, 1, 'b', 97, 2, 109, 0, 0, 0, 1, 'a', 97, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encodeTerm(tc.in, tc.atoms)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("encodeTerm(%#v) = % x\nwant % x", tc.in, got, tc.want)
			}
		})
	}
}
