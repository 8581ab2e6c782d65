package etf

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"unicode/utf8"
)

// The Append functions write one term, without the version byte: an
// encoded value is Version followed by one term.

// AppendAtom appends a as term_to_binary does on OTP 25: ATOM_EXT when
// every character is latin-1, else SMALL_ATOM_UTF8_EXT or ATOM_UTF8_EXT.
// It fails for an atom that is not UTF-8 or longer than MaxAtomChars.
func AppendAtom(dst []byte, a Atom) ([]byte, error) {
	name := string(a)
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || n > MaxAtomChars {
		return dst, &Error{Offset: -1, Reason: fmt.Sprintf("atom %.20q is not UTF-8 or over %d characters", name, MaxAtomChars), Unrepresentable: true}
	}
	if isLatin1(name) {
		dst = append(dst, TagAtom)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		for _, r := range name {
			dst = append(dst, byte(r))
		}
		return dst, nil
	}
	if len(name) <= math.MaxUint8 {
		dst = append(dst, TagSmallAtomUTF8, byte(len(name)))
	} else {
		dst = append(dst, TagAtomUTF8)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(name)))
	}
	return append(dst, name...), nil
}

func isLatin1(s string) bool {
	for _, r := range s {
		if r > 0xff {
			return false
		}
	}
	return true
}

// AppendBinary appends s as a binary.
func AppendBinary(dst []byte, s string) []byte {
	dst = append(dst, TagBinary)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// AppendInt appends i in its smallest form, as the BEAM does: 0..255 as
// SMALL_INTEGER_EXT, 32-bit values as INTEGER_EXT, others as SMALL_BIG_EXT.
func AppendInt(dst []byte, i int64) []byte {
	switch {
	case i >= 0 && i <= math.MaxUint8:
		return append(dst, TagSmallInteger, byte(i))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		dst = append(dst, TagInteger)
		return binary.BigEndian.AppendUint32(dst, uint32(int32(i)))
	case i < 0:
		return appendBigDigits(dst, 1, uint64(-(i+1))+1) // -MinInt64 does not fit int64
	default:
		return appendBigDigits(dst, 0, uint64(i))
	}
}

// appendBigDigits writes a SMALL_BIG_EXT of at most 8 digit bytes.
func appendBigDigits(dst []byte, sign byte, u uint64) []byte {
	at := len(dst)
	dst = append(dst, TagSmallBig, 0, sign)
	n := byte(0)
	for ; u > 0; u >>= 8 {
		dst = append(dst, byte(u))
		n++
	}
	dst[at+1] = n
	return dst
}

// AppendBigInt appends x in its smallest form. It fails for a value over
// MaxBigBytes bytes.
func AppendBigInt(dst []byte, x *big.Int) ([]byte, error) {
	if x.IsInt64() {
		return AppendInt(dst, x.Int64()), nil
	}
	if !bigFits(x) {
		return dst, unrepresentable(-1, "big integer over 8192 bits")
	}
	be := x.Bytes() // magnitude, big-endian
	var sign byte
	if x.Sign() < 0 {
		sign = 1
	}
	if len(be) <= math.MaxUint8 {
		dst = append(dst, TagSmallBig, byte(len(be)), sign)
	} else {
		dst = append(dst, TagLargeBig)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(be)))
		dst = append(dst, sign)
	}
	for i := len(be) - 1; i >= 0; i-- {
		dst = append(dst, be[i])
	}
	return dst, nil
}

// AppendFloat appends f as NEW_FLOAT_EXT. It fails for NaN and the
// infinities, which Erlang has no value for.
func AppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, unrepresentable(-1, "float is not finite")
	}
	dst = append(dst, TagNewFloat)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f)), nil
}

// AppendTupleHeader appends the header of a tuple of n elements, which the
// caller appends next.
func AppendTupleHeader(dst []byte, n int) []byte {
	if n <= math.MaxUint8 {
		return append(dst, TagSmallTuple, byte(n))
	}
	dst = append(dst, TagLargeTuple)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// AppendMapHeader appends the header of a map of n pairs, which the caller
// appends next, each key followed by its value. Keys must be distinct:
// binary_to_term refuses a map with a key twice (and an Elixir node that
// receives one crashes). term_to_binary writes a map of up to 32 keys in
// key order; binary_to_term accepts any order.
func AppendMapHeader(dst []byte, n int) []byte {
	dst = append(dst, TagMap)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// AppendListHeader appends the header of a proper list of n > 0 elements:
// the caller appends the elements, then AppendNil. The empty list is
// AppendNil alone.
func AppendListHeader(dst []byte, n int) []byte {
	dst = append(dst, TagList)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// AppendNil appends the empty list [].
func AppendNil(dst []byte) []byte { return append(dst, TagNil) }

// AppendTerm appends v, a Go value of the package's mapping (also int,
// bool, nil, []byte and a nil *big.Int, as atoms where Erlang has them).
// A Map's pairs are written in their order; a List of integers 0..255 is
// written as STRING_EXT, as term_to_binary does.
func AppendTerm(dst []byte, v any) ([]byte, error) { return appendTerm(dst, v, 0) }

func appendTerm(dst []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, unrepresentable(-1, "nested too deeply")
	}
	var err error
	switch x := v.(type) {
	case nil:
		return AppendAtom(dst, "nil")
	case bool:
		if x {
			return AppendAtom(dst, "true")
		}
		return AppendAtom(dst, "false")
	case Atom:
		return AppendAtom(dst, x)
	case string:
		return AppendBinary(dst, x), nil
	case []byte:
		return AppendBinary(dst, string(x)), nil
	case int:
		return AppendInt(dst, int64(x)), nil
	case int64:
		return AppendInt(dst, x), nil
	case *big.Int:
		if x == nil {
			return AppendAtom(dst, "nil")
		}
		return AppendBigInt(dst, x)
	case float64:
		return AppendFloat(dst, x)
	case Tuple:
		dst = AppendTupleHeader(dst, len(x))
		for _, el := range x {
			if dst, err = appendTerm(dst, el, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case List:
		if len(x) == 0 {
			return AppendNil(dst), nil
		}
		if s, ok := charlist(x); ok {
			dst = append(dst, TagString)
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
			return append(dst, s...), nil
		}
		dst = AppendListHeader(dst, len(x))
		for _, el := range x {
			if dst, err = appendTerm(dst, el, depth+1); err != nil {
				return dst, err
			}
		}
		return AppendNil(dst), nil
	case ImproperList:
		if len(x.Elems) == 0 {
			return dst, unrepresentable(-1, "an improper list needs an element")
		}
		if l, ok := x.Tail.(List); ok && len(l) == 0 {
			return dst, unrepresentable(-1, "an improper list cannot end in []")
		}
		dst = AppendListHeader(dst, len(x.Elems))
		for _, el := range x.Elems {
			if dst, err = appendTerm(dst, el, depth+1); err != nil {
				return dst, err
			}
		}
		return appendTerm(dst, x.Tail, depth+1)
	case Map:
		dst = AppendMapHeader(dst, len(x))
		for _, p := range x {
			if dst, err = appendTerm(dst, p.Key, depth+1); err != nil {
				return dst, err
			}
			if dst, err = appendTerm(dst, p.Value, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case Pid:
		dst = append(dst, TagNewPid)
		if dst, err = AppendAtom(dst, x.Node); err != nil {
			return dst, err
		}
		dst = binary.BigEndian.AppendUint32(dst, x.ID)
		dst = binary.BigEndian.AppendUint32(dst, x.Serial)
		return binary.BigEndian.AppendUint32(dst, x.Creation), nil
	case Ref:
		if len(x.ID) > math.MaxUint16 {
			return dst, unrepresentable(-1, "reference too long")
		}
		dst = append(dst, TagNewerRef)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(x.ID)))
		if dst, err = AppendAtom(dst, x.Node); err != nil {
			return dst, err
		}
		dst = binary.BigEndian.AppendUint32(dst, x.Creation)
		for _, id := range x.ID {
			dst = binary.BigEndian.AppendUint32(dst, id)
		}
		return dst, nil
	}
	return dst, unrepresentable(-1, fmt.Sprintf("no Erlang term for Go %T", v))
}

// charlist returns l as bytes when it is a list of at most 65535 integers
// 0..255, which term_to_binary writes as STRING_EXT.
func charlist(l List) ([]byte, bool) {
	if len(l) > math.MaxUint16 {
		return nil, false
	}
	for _, el := range l {
		if i, ok := el.(int64); !ok || i < 0 || i > math.MaxUint8 {
			return nil, false
		}
	}
	s := make([]byte, len(l))
	for i, el := range l {
		s[i] = byte(el.(int64))
	}
	return s, true
}

// Compress returns the compressed form of an encoded value (Version, then
// a term), zlib at level (1..9), as term_to_binary(T, [{compressed,
// Level}]) writes it: Version, 80, the term's size (u32), the zlib stream.
// Like term_to_binary it returns encoded itself when compressing does not
// make it smaller, or when it is not an uncompressed encoded value.
func Compress(encoded []byte, level int) []byte {
	if len(encoded) < 2 || encoded[0] != Version || encoded[1] == TagCompressed || len(encoded)-1 > math.MaxUint32 {
		return encoded
	}
	var buf bytes.Buffer
	buf.Grow(len(encoded))
	buf.Write([]byte{Version, TagCompressed})
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(encoded)-1))
	buf.Write(size[:])
	zw, err := zlib.NewWriterLevel(&buf, level)
	if err != nil {
		return encoded
	}
	_, _ = zw.Write(encoded[1:])
	if zw.Close() != nil || buf.Len() >= len(encoded) {
		return encoded
	}
	return buf.Bytes()
}
