package phxtoken

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"
)

// decodeTerm reads a whole External Term Format value: the version byte,
// then a term, possibly zlib-compressed, and nothing after it. A compressed
// term larger than maxInflated bytes is refused. It never panics, and its
// allocations are bounded by a small multiple of the (inflated) input.
func decodeTerm(b []byte, maxInflated int) (any, error) {
	if len(b) == 0 || b[0] != etfVersion {
		return nil, &termError{"not version 131", 0}
	}
	b = b[1:]
	if len(b) > 0 && b[0] == tagCompressed {
		var err error
		if b, err = inflate(b[1:], maxInflated); err != nil {
			return nil, err
		}
	}
	d := decoder{buf: b}
	v, err := d.term(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.buf) {
		return nil, d.fail("trailing bytes")
	}
	return v, nil
}

// inflate reads a COMPRESSED term body: the uncompressed size (u32), then a
// zlib stream that must inflate to exactly that size.
func inflate(b []byte, maxInflated int) ([]byte, error) {
	if len(b) < 4 {
		return nil, &termError{"short compressed header", 2}
	}
	size := binary.BigEndian.Uint32(b)
	if uint64(size) > uint64(maxInflated) {
		return nil, &termError{"compressed term too large", 2}
	}
	zr, err := zlib.NewReader(bytes.NewReader(b[4:]))
	if err != nil {
		return nil, &termError{"bad zlib stream", 6}
	}
	// Grow with the data actually inflated rather than trusting size.
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(zr, int64(size)+1))
	if err != nil || n != int64(size) {
		return nil, &termError{"compressed size mismatch", 6}
	}
	return out.Bytes(), nil
}

type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) fail(reason string) error {
	return &termError{reason, d.pos + 1} // +1 for the version byte
}

// take returns the next n bytes, or false if there are fewer.
func (d *decoder) take(n int) ([]byte, bool) {
	if n < 0 || n > len(d.buf)-d.pos {
		return nil, false
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b, true
}

func (d *decoder) u8() (int, bool) {
	b, ok := d.take(1)
	if !ok {
		return 0, false
	}
	return int(b[0]), true
}

func (d *decoder) u16() (int, bool) {
	b, ok := d.take(2)
	if !ok {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(b)), true
}

// u32 returns a length; on 32-bit platforms values above MaxInt fail later
// as "longer than the input".
func (d *decoder) u32() (int, bool) {
	b, ok := d.take(4)
	if !ok {
		return 0, false
	}
	u := binary.BigEndian.Uint32(b)
	if uint64(u) > math.MaxInt32 && math.MaxInt == math.MaxInt32 {
		return math.MaxInt, true
	}
	return int(u), true
}

// remaining is the number of unread bytes: an upper bound on the number of
// elements still to come, since each takes at least one byte.
func (d *decoder) remaining() int { return len(d.buf) - d.pos }

func (d *decoder) term(depth int) (any, error) {
	if depth > maxDepth {
		return nil, d.fail("nested too deeply")
	}
	tag, ok := d.u8()
	if !ok {
		return nil, d.fail("truncated")
	}
	switch tag {
	case tagSmallInteger:
		n, ok := d.u8()
		if !ok {
			return nil, d.fail("truncated integer")
		}
		return int64(n), nil
	case tagInteger:
		b, ok := d.take(4)
		if !ok {
			return nil, d.fail("truncated integer")
		}
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case tagSmallBig:
		n, ok := d.u8()
		if !ok {
			return nil, d.fail("truncated big integer")
		}
		return d.bigInt(n)
	case tagLargeBig:
		n, ok := d.u32()
		if !ok {
			return nil, d.fail("truncated big integer")
		}
		if n > maxBigBytes {
			return nil, d.fail("big integer too large")
		}
		return d.bigInt(n)
	case tagNewFloat:
		b, ok := d.take(8)
		if !ok {
			return nil, d.fail("truncated float")
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(b))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, d.fail("float is not finite")
		}
		return f, nil
	case tagBinary:
		n, ok := d.u32()
		if !ok {
			return nil, d.fail("truncated binary")
		}
		b, ok := d.take(n)
		if !ok {
			return nil, d.fail("binary longer than the input")
		}
		return string(b), nil
	case tagAtom, tagAtomUTF8:
		n, ok := d.u16()
		if !ok {
			return nil, d.fail("truncated atom")
		}
		return d.atom(n, tag == tagAtomUTF8)
	case tagSmallAtom, tagSmallAtomUTF8:
		n, ok := d.u8()
		if !ok {
			return nil, d.fail("truncated atom")
		}
		return d.atom(n, tag == tagSmallAtomUTF8)
	case tagSmallTuple:
		n, ok := d.u8()
		if !ok {
			return nil, d.fail("truncated tuple")
		}
		return d.elements(n, depth, true)
	case tagLargeTuple:
		n, ok := d.u32()
		if !ok {
			return nil, d.fail("truncated tuple")
		}
		return d.elements(n, depth, true)
	case tagNil:
		return []any{}, nil
	case tagString:
		n, ok := d.u16()
		if !ok {
			return nil, d.fail("truncated string")
		}
		b, ok := d.take(n)
		if !ok {
			return nil, d.fail("string longer than the input")
		}
		// A STRING_EXT is a list of small integers (an Erlang string or
		// an Elixir charlist like [1, 2, 3]), not a binary.
		l := make([]any, n)
		for i, c := range b {
			l[i] = int64(c)
		}
		return l, nil
	case tagList:
		n, ok := d.u32()
		if !ok {
			return nil, d.fail("truncated list")
		}
		l, err := d.elements(n, depth, false)
		if err != nil {
			return nil, err
		}
		if tail, ok := d.u8(); !ok || tail != tagNil {
			return nil, d.fail("improper lists are not supported")
		}
		return l, nil
	case tagMap:
		n, ok := d.u32()
		if !ok {
			return nil, d.fail("truncated map")
		}
		return d.mapTerm(n, depth)
	}
	return nil, d.fail("unsupported term type")
}

// bigInt reads the sign byte and n little-endian digit bytes of a
// SMALL_BIG or LARGE_BIG, returning int64 when the value fits.
func (d *decoder) bigInt(n int) (any, error) {
	sign, ok := d.u8()
	if !ok {
		return nil, d.fail("truncated big integer")
	}
	digits, ok := d.take(n)
	if !ok {
		return nil, d.fail("big integer longer than the input")
	}
	if sign > 1 {
		return nil, d.fail("bad big integer sign")
	}
	if n <= 8 {
		var u uint64
		for i := n - 1; i >= 0; i-- {
			u = u<<8 | uint64(digits[i])
		}
		switch {
		case sign == 0 && u <= math.MaxInt64:
			return int64(u), nil
		case sign == 1 && u <= math.MaxInt64:
			return -int64(u), nil
		case sign == 1 && u == 1<<63:
			return int64(math.MinInt64), nil
		}
	}
	be := make([]byte, n)
	for i, c := range digits {
		be[n-1-i] = c
	}
	x := new(big.Int).SetBytes(be)
	if sign == 1 {
		x.Neg(x)
	}
	if x.IsInt64() { // leading zero digits
		return x.Int64(), nil
	}
	return x, nil
}

// atom reads an atom of n bytes, Latin-1 unless utf8.
func (d *decoder) atom(n int, isUTF8 bool) (any, error) {
	b, ok := d.take(n)
	if !ok {
		return nil, d.fail("atom longer than the input")
	}
	var name string
	if isUTF8 {
		if !utf8.Valid(b) || utf8.RuneCount(b) > maxAtomChars {
			return nil, d.fail("bad UTF-8 atom")
		}
		name = string(b)
	} else {
		if n > maxAtomChars {
			return nil, d.fail("atom too long")
		}
		name = latin1(b)
	}
	switch name {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return Atom(name), nil
}

func latin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(2 * len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// elements reads the n elements of a tuple or list.
func (d *decoder) elements(n, depth int, tuple bool) (any, error) {
	if n > d.remaining() {
		return nil, d.fail("more elements than bytes")
	}
	l := make([]any, n)
	for i := range l {
		v, err := d.term(depth + 1)
		if err != nil {
			return nil, err
		}
		l[i] = v
	}
	if tuple {
		return Tuple(l), nil
	}
	return l, nil
}

// mapTerm reads the n key/value pairs of a map. Keys must be scalars that
// Go can hash by value; duplicates are refused, as binary_to_term does.
func (d *decoder) mapTerm(n, depth int) (any, error) {
	if n > d.remaining()/2 {
		return nil, d.fail("more map entries than bytes")
	}
	m := make(map[any]any, n)
	for range n {
		k, err := d.term(depth + 1)
		if err != nil {
			return nil, err
		}
		switch k.(type) {
		case int64, float64, string, Atom, bool, nil:
		default:
			return nil, d.fail("unsupported map key type")
		}
		if _, dup := m[k]; dup {
			return nil, d.fail("duplicate map key")
		}
		v, err := d.term(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}
