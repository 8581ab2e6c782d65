package etf

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzDecode checks that the decoder never panics and fails only with an
// *Error, that what it accepts encodes back to a term that decodes the
// same, and that AppendJSON on the same bytes never panics and writes
// valid JSON when it succeeds. Seeds: the captured Phoenix.PubSub.Redis
// messages, compressed ones included, and compressed hostile headers.
func FuzzDecode(f *testing.F) {
	if file, err := os.Open("../testdata/payloads.jsonl"); err == nil {
		sc := bufio.NewScanner(file)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var c struct{ Hex string }
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				if b, err := hex.DecodeString(c.Hex); err == nil {
					f.Add(b)
				}
			}
		}
		file.Close()
	}
	term, _ := AppendTerm([]byte{Version}, Map{{"big", List{int64(1), "abcabcabcabcabcabcabcabcabcabcabc", 1.5, Tuple{Atom("a")}}}})
	f.Add(Compress(term, 9))
	f.Add([]byte{Version, TagCompressed, 0, 0, 0, 3, 0x78, 0x9c, 0x4b, 0x64, 0x04, 0x00, 0x00, 0xdf, 0x00, 0x63})
	f.Add([]byte{Version, TagCompressed, 0xff, 0xff, 0xff, 0xff, 0x78, 0x9c})
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Decode(in, 1<<16)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not an *Error: %v", err)
			}
		} else {
			enc, err := AppendTerm([]byte{Version}, v)
			if err != nil {
				t.Fatalf("decoded %#v but cannot encode it: %v", v, err)
			}
			back, err := Decode(enc, 1<<16)
			if err != nil || !reflect.DeepEqual(normalizeBig(back), normalizeBig(v)) {
				t.Fatalf("round trip: %#v became %#v (%v)", v, back, err)
			}
		}
		r, err := NewReader(in, 1<<16)
		if err != nil {
			return
		}
		out, err := r.AppendJSON(nil)
		if err == nil && !json.Valid(out) {
			t.Fatalf("AppendJSON wrote invalid JSON %q", out)
		}
	})
}

// normalizeBig makes *big.Int values comparable with DeepEqual.
func normalizeBig(v any) any {
	if b, ok := v.(interface{ String() string }); ok {
		if _, isAtom := v.(Atom); !isAtom {
			return "big:" + b.String()
		}
	}
	switch x := v.(type) {
	case Tuple:
		out := make(Tuple, len(x))
		for i := range x {
			out[i] = normalizeBig(x[i])
		}
		return out
	case List:
		out := make(List, len(x))
		for i := range x {
			out[i] = normalizeBig(x[i])
		}
		return out
	case Map:
		out := make(Map, len(x))
		for i, p := range x {
			out[i] = Pair{normalizeBig(p.Key), normalizeBig(p.Value)}
		}
		return out
	case ImproperList:
		return ImproperList{Elems: normalizeBig(List(x.Elems)).(List), Tail: normalizeBig(x.Tail)}
	}
	return v
}
