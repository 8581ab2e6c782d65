package phxtoken

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// encodeTerm writes v in the External Term Format as term_to_binary/1
// does, atoms as enc says. Maps are written in Erlang term order of their
// keys, which is what OTP 25 does for maps of up to 32 keys.
func encodeTerm(v any, atoms AtomEncoding) ([]byte, error) {
	e := encoder{buf: make([]byte, 1, 64), atoms: atoms}
	e.buf[0] = etfVersion
	if err := e.term(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type encoder struct {
	buf   []byte
	atoms AtomEncoding
}

func (e *encoder) term(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("phxtoken: cannot encode: nested more than %d deep", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return e.atom("nil")
	case bool:
		if x {
			return e.atom("true")
		}
		return e.atom("false")
	case Atom:
		return e.atom(string(x))
	case string:
		e.binary(x)
	case []byte:
		e.binary(string(x))
	case int:
		e.int(int64(x))
	case int8:
		e.int(int64(x))
	case int16:
		e.int(int64(x))
	case int32:
		e.int(int64(x))
	case int64:
		e.int(x)
	case uint:
		e.uint(uint64(x))
	case uint8:
		e.int(int64(x))
	case uint16:
		e.int(int64(x))
	case uint32:
		e.int(int64(x))
	case uint64:
		e.uint(x)
	case *big.Int:
		if x == nil {
			return e.atom("nil")
		}
		e.big(x)
	case float64:
		return e.float(x)
	case float32:
		return e.float(float64(x))
	case Tuple:
		e.tupleHeader(len(x))
		for _, el := range x {
			if err := e.term(el, depth+1); err != nil {
				return err
			}
		}
	case []any:
		return e.list(len(x), func(i int) any { return x[i] }, depth)
	case map[any]any:
		return e.mapTerm(x, depth)
	default:
		return e.reflected(reflect.ValueOf(v), depth)
	}
	return nil
}

// reflected handles the slices and maps not special-cased in term.
func (e *encoder) reflected(rv reflect.Value, depth int) error {
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			e.buf = etf.AppendNil(e.buf)
			return nil
		}
		return e.list(rv.Len(), func(i int) any { return rv.Index(i).Interface() }, depth)
	case reflect.Map:
		m := make(map[any]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().Interface()] = it.Value().Interface()
		}
		return e.mapTerm(m, depth)
	case reflect.Pointer:
		if rv.IsNil() {
			return e.atom("nil")
		}
	}
	return fmt.Errorf("phxtoken: cannot encode %s as an Erlang term", rv.Type())
}

func (e *encoder) atom(name string) error {
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || n > maxAtomChars {
		return fmt.Errorf("phxtoken: cannot encode atom %.20q: not UTF-8 or over %d characters", name, maxAtomChars)
	}
	if e.atoms == AtomLatin1 && isLatin1(name) {
		e.buf = append(e.buf, etf.TagAtom)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(n))
		for _, r := range name {
			e.buf = append(e.buf, byte(r))
		}
		return nil
	}
	if len(name) < 256 {
		e.buf = append(e.buf, etf.TagSmallAtomUTF8, byte(len(name)))
	} else {
		e.buf = append(e.buf, etf.TagAtomUTF8)
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(len(name)))
	}
	e.buf = append(e.buf, name...)
	return nil
}

func isLatin1(s string) bool {
	for _, r := range s {
		if r > 0xff {
			return false
		}
	}
	return true
}

func (e *encoder) binary(s string) { e.buf = etf.AppendBinary(e.buf, s) }

// int picks the smallest encoding, as the BEAM does.
func (e *encoder) int(i int64) { e.buf = etf.AppendInt(e.buf, i) }

func (e *encoder) uint(u uint64) {
	if u <= math.MaxInt64 {
		e.int(int64(u))
		return
	}
	e.big(new(big.Int).SetUint64(u))
}

// big writes x in its smallest form. It is not etf.AppendBigInt because
// that refuses integers over etf.MaxBigBytes, and Sign writes any size
// (Verify refuses them, as binary_to_term does not).
func (e *encoder) big(x *big.Int) {
	if x.IsInt64() {
		e.int(x.Int64())
		return
	}
	be := new(big.Int).Abs(x).Bytes()
	var sign byte
	if x.Sign() < 0 {
		sign = 1
	}
	if len(be) <= math.MaxUint8 {
		e.buf = append(e.buf, etf.TagSmallBig, byte(len(be)), sign)
	} else {
		e.buf = append(e.buf, etf.TagLargeBig)
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(len(be)))
		e.buf = append(e.buf, sign)
	}
	for i := len(be) - 1; i >= 0; i-- {
		e.buf = append(e.buf, be[i])
	}
}

func (e *encoder) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("phxtoken: cannot encode %v: Erlang floats are finite", f)
	}
	e.buf, _ = etf.AppendFloat(e.buf, f) // finite: cannot fail
	return nil
}

func (e *encoder) tupleHeader(n int) { e.buf = etf.AppendTupleHeader(e.buf, n) }

// list writes n elements as NIL, STRING (all small non-negative integers,
// fewer than 65536 of them, as term_to_binary does) or LIST.
func (e *encoder) list(n int, at func(int) any, depth int) error {
	if n == 0 {
		e.buf = etf.AppendNil(e.buf)
		return nil
	}
	if n < 1<<16 {
		str := true
		for i := range n {
			if _, ok := byteValue(at(i)); !ok {
				str = false
				break
			}
		}
		if str {
			e.buf = append(e.buf, etf.TagString)
			e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(n))
			for i := range n {
				c, _ := byteValue(at(i))
				e.buf = append(e.buf, c)
			}
			return nil
		}
	}
	e.buf = etf.AppendListHeader(e.buf, n)
	for i := range n {
		if err := e.term(at(i), depth+1); err != nil {
			return err
		}
	}
	e.buf = etf.AppendNil(e.buf)
	return nil
}

// byteValue reports whether v is an integer in 0..255.
func byteValue(v any) (byte, bool) {
	var i int64
	switch x := v.(type) {
	case int:
		i = int64(x)
	case int8:
		i = int64(x)
	case int16:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	case uint:
		i = int64(min(x, 256))
	case uint8:
		return x, true
	case uint16:
		i = int64(x)
	case uint32:
		i = int64(x)
	case uint64:
		i = int64(min(x, 256))
	default:
		return 0, false
	}
	if i < 0 || i > math.MaxUint8 {
		return 0, false
	}
	return byte(i), true
}

func (e *encoder) mapTerm(m map[any]any, depth int) error {
	keys := make([]any, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	e.buf = etf.AppendMapHeader(e.buf, len(m))
	for _, k := range keys {
		if err := e.term(k, depth+1); err != nil {
			return err
		}
		if err := e.term(m[k], depth+1); err != nil {
			return err
		}
	}
	return nil
}

// compareKeys orders scalar map keys as Erlang terms: numbers, then atoms
// (nil, true and false among them), then binaries. Other keys sort last, by
// their printed form, only to make the output deterministic.
func compareKeys(a, b any) int {
	ca, cb := keyClass(a), keyClass(b)
	if ca.rank != cb.rank {
		return cmp.Compare(ca.rank, cb.rank)
	}
	if ca.rank == 0 {
		if c := cmp.Compare(ca.num, cb.num); c != 0 {
			return c
		}
		return cmp.Compare(ca.isFloat, cb.isFloat) // 1 before 1.0
	}
	return strings.Compare(ca.text, cb.text)
}

type keyOrder struct {
	rank    int
	num     float64
	isFloat int
	text    string
}

func keyClass(k any) keyOrder {
	switch x := k.(type) {
	case nil:
		return keyOrder{rank: 1, text: "nil"}
	case bool:
		if x {
			return keyOrder{rank: 1, text: "true"}
		}
		return keyOrder{rank: 1, text: "false"}
	case Atom:
		return keyOrder{rank: 1, text: string(x)}
	case string:
		return keyOrder{rank: 2, text: x}
	case []byte:
		return keyOrder{rank: 2, text: string(x)}
	case float64:
		return keyOrder{num: x, isFloat: 1}
	case float32:
		return keyOrder{num: float64(x), isFloat: 1}
	}
	if i, ok := intValue(k); ok {
		return keyOrder{num: i}
	}
	return keyOrder{rank: 3, text: fmt.Sprintf("%T %v", k, k)}
}

// intValue converts Go integers to float64 for ordering.
func intValue(k any) (float64, bool) {
	switch x := k.(type) {
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case *big.Int:
		if x == nil {
			return 0, false
		}
		f, _ := x.Float64()
		return f, true
	}
	return 0, false
}
