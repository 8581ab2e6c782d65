package etf

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decode returns the term data encodes: the version byte, then a term or
// its compressed form (inflated if at most maxInflated bytes; 0 means
// DefaultMaxInflated), and nothing after it. Errors are *Error.
func Decode(data []byte, maxInflated int) (any, error) {
	r, err := NewReader(data, maxInflated)
	if err != nil {
		return nil, err
	}
	v, err := r.Term()
	if err != nil {
		return nil, err
	}
	if !r.Done() {
		return nil, r.fail("trailing bytes")
	}
	return v, nil
}

// Reader reads the terms of one encoded value in order, without building
// what it skips. The slices it returns alias its input. A Reader is not
// safe for concurrent use.
type Reader struct {
	buf []byte
	pos int
}

// NewReader returns a Reader positioned on the term data encodes: data
// starts with the version byte, then a term or its compressed form, which
// is inflated at once if its size is at most maxInflated (0 means
// DefaultMaxInflated).
func NewReader(data []byte, maxInflated int) (*Reader, error) {
	if maxInflated <= 0 {
		maxInflated = DefaultMaxInflated
	}
	if len(data) == 0 || data[0] != Version {
		return nil, &Error{Offset: 0, Reason: "not version 131"}
	}
	data = data[1:]
	if len(data) > 0 && data[0] == TagCompressed {
		var err error
		if data, err = inflate(data[1:], maxInflated); err != nil {
			return nil, err
		}
	}
	return &Reader{buf: data}, nil
}

// inflate reads a compressed term: its uncompressed size (u32), then a
// zlib stream that must inflate to exactly that size.
func inflate(b []byte, maxInflated int) ([]byte, error) {
	if len(b) < 4 {
		return nil, &Error{Offset: 2, Reason: "short compressed header"}
	}
	size := binary.BigEndian.Uint32(b)
	if uint64(size) > uint64(maxInflated) {
		return nil, &Error{Offset: 2, Reason: "compressed term over the size limit", Unrepresentable: true}
	}
	zr, err := zlib.NewReader(bytes.NewReader(b[4:]))
	if err != nil {
		return nil, &Error{Offset: 6, Reason: "bad zlib stream"}
	}
	// Grow with what actually inflates rather than trusting size.
	var out bytes.Buffer
	n, err := out.ReadFrom(io.LimitReader(zr, int64(size)+1))
	if err != nil || n != int64(size) {
		return nil, &Error{Offset: 6, Reason: "compressed size mismatch"}
	}
	return out.Bytes(), nil
}

// Done reports whether every byte has been read.
func (r *Reader) Done() bool { return r.pos == len(r.buf) }

// Mark returns the position of the next term, for Rewind.
func (r *Reader) Mark() int { return r.pos }

// Rewind goes back to a position Mark returned.
func (r *Reader) Rewind(mark int) { r.pos = mark }

// Peek returns the tag of the next term, or 0 at the end.
func (r *Reader) Peek() byte {
	if r.pos >= len(r.buf) {
		return 0
	}
	return r.buf[r.pos]
}

func (r *Reader) fail(reason string) *Error { return &Error{Offset: r.pos + 1, Reason: reason} }

// take returns the next n bytes, or false if there are fewer.
func (r *Reader) take(n int) ([]byte, bool) {
	if n < 0 || n > len(r.buf)-r.pos {
		return nil, false
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b, true
}

func (r *Reader) u8() (int, bool) {
	b, ok := r.take(1)
	if !ok {
		return 0, false
	}
	return int(b[0]), true
}

func (r *Reader) u16() (int, bool) {
	b, ok := r.take(2)
	if !ok {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(b)), true
}

func (r *Reader) u32() (uint32, bool) {
	b, ok := r.take(4)
	if !ok {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

// count reads a u32 element count, bounded by the bytes left (each
// element takes at least per bytes).
func (r *Reader) count(per int) (int, bool) {
	u, ok := r.u32()
	if !ok || uint64(u)*uint64(per) > uint64(len(r.buf)-r.pos) {
		return 0, false
	}
	return int(u), true
}

// Tuple reads a tuple's header and returns its arity; its elements follow.
func (r *Reader) Tuple() (int, error) {
	switch tag, _ := r.u8(); tag {
	case TagSmallTuple:
		if n, ok := r.u8(); ok && n <= len(r.buf)-r.pos {
			return n, nil
		}
	case TagLargeTuple:
		if n, ok := r.count(1); ok {
			return n, nil
		}
	default:
		r.pos--
		return 0, r.fail("not a tuple")
	}
	return 0, r.fail("truncated tuple")
}

// Map reads a map's header and returns its number of pairs; each key is
// followed by its value.
func (r *Reader) Map() (int, error) {
	if tag, _ := r.u8(); tag != TagMap {
		r.pos--
		return 0, r.fail("not a map")
	}
	n, ok := r.count(2)
	if !ok {
		return 0, r.fail("truncated map")
	}
	return n, nil
}

// List reads the header of a LIST_EXT and returns its number of elements;
// the elements follow, then the tail, which is [] (TagNil) for a proper
// list. The empty list [] and STRING_EXT have no such header: read them
// with Term.
func (r *Reader) List() (int, error) {
	if r.Peek() != TagList {
		return 0, r.fail("not a list")
	}
	r.pos++
	n, ok := r.count(1)
	if !ok {
		return 0, r.fail("truncated list")
	}
	return n, nil
}

// AtomBytes reads an atom, in any of its four encodings, and returns its
// text as UTF-8. For an ASCII atom the slice aliases the input.
func (r *Reader) AtomBytes() ([]byte, error) {
	tag, _ := r.u8()
	var n int
	var ok bool
	switch tag {
	case TagAtom, TagAtomUTF8:
		n, ok = r.u16()
	case TagSmallAtom, TagSmallAtomUTF8:
		n, ok = r.u8()
	default:
		r.pos--
		return nil, r.fail("not an atom")
	}
	if !ok {
		return nil, r.fail("truncated atom")
	}
	b, ok := r.take(n)
	if !ok {
		return nil, r.fail("atom longer than the input")
	}
	if tag == TagAtomUTF8 || tag == TagSmallAtomUTF8 {
		if !utf8.Valid(b) || utf8.RuneCount(b) > MaxAtomChars {
			return nil, r.fail("bad UTF-8 atom")
		}
		return b, nil
	}
	if n > MaxAtomChars {
		return nil, r.fail("atom too long")
	}
	return latin1(b), nil
}

// Atom reads an atom, as AtomBytes does.
func (r *Reader) Atom() (Atom, error) {
	b, err := r.AtomBytes()
	return Atom(b), err
}

// latin1 returns b as UTF-8: b itself when it is ASCII.
func latin1(b []byte) []byte {
	for i, c := range b {
		if c >= utf8.RuneSelf {
			out := make([]byte, i, 2*len(b))
			copy(out, b[:i])
			for _, c := range b[i:] {
				out = utf8.AppendRune(out, rune(c))
			}
			return out
		}
	}
	return b
}

// Binary reads a binary; the slice aliases the input.
func (r *Reader) Binary() ([]byte, error) {
	if tag, _ := r.u8(); tag != TagBinary {
		r.pos--
		return nil, r.fail("not a binary")
	}
	n, ok := r.count(1)
	if !ok {
		return nil, r.fail("truncated binary")
	}
	b, _ := r.take(n)
	return b, nil
}

// Int reads an integer that fits in an int64.
func (r *Reader) Int() (int64, error) {
	at := r.pos
	switch r.Peek() {
	case TagSmallInteger, TagInteger, TagSmallBig, TagLargeBig:
	default:
		return 0, r.fail("not an integer")
	}
	v, err := r.value(0, true)
	if err != nil {
		return 0, err
	}
	if i, ok := v.(int64); ok {
		return i, nil
	}
	r.pos = at
	return 0, r.fail("integer does not fit 64 bits")
}

// Skip reads past one whole term, checking its structure as Term does.
func (r *Reader) Skip() error {
	_, err := r.value(0, false)
	return err
}

// Term reads one whole term and returns it as Go values (see the package
// doc for the mapping).
func (r *Reader) Term() (any, error) { return r.value(0, true) }

// value reads a term, building it only when build is set.
func (r *Reader) value(depth int, build bool) (any, error) {
	if depth > MaxDepth {
		return nil, r.fail("nested too deeply")
	}
	tag, ok := r.u8()
	if !ok {
		return nil, r.fail("truncated")
	}
	switch tag {
	case TagSmallInteger:
		n, ok := r.u8()
		if !ok {
			return nil, r.fail("truncated integer")
		}
		return int64(n), nil
	case TagInteger:
		u, ok := r.u32()
		if !ok {
			return nil, r.fail("truncated integer")
		}
		return int64(int32(u)), nil
	case TagSmallBig, TagLargeBig:
		var n int
		if tag == TagSmallBig {
			n, ok = r.u8()
		} else {
			n, ok = r.count(1)
		}
		if !ok {
			return nil, r.fail("truncated big integer")
		}
		if !build {
			if _, ok := r.take(n + 1); !ok {
				return nil, r.fail("big integer longer than the input")
			}
			return nil, nil
		}
		if n > MaxBigBytes {
			return nil, &Error{Offset: r.pos + 1, Reason: "big integer over 8192 bits", Unrepresentable: true}
		}
		return r.bigInt(n)
	case TagNewFloat:
		u, ok := r.take(8)
		if !ok {
			return nil, r.fail("truncated float")
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(u))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, r.fail("float is not finite")
		}
		return f, nil
	case TagFloat:
		s, ok := r.take(31)
		if !ok {
			return nil, r.fail("truncated float")
		}
		text := string(s)
		if i := strings.IndexByte(text, 0); i >= 0 {
			text = text[:i]
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, r.fail("bad float")
		}
		return f, nil
	case TagAtom, TagAtomUTF8, TagSmallAtom, TagSmallAtomUTF8:
		r.pos--
		b, err := r.AtomBytes()
		if err != nil || !build {
			return nil, err
		}
		return Atom(b), nil
	case TagBinary:
		r.pos--
		b, err := r.Binary()
		if err != nil || !build {
			return nil, err
		}
		return string(b), nil
	case TagSmallTuple, TagLargeTuple:
		r.pos--
		n, err := r.Tuple()
		if err != nil {
			return nil, err
		}
		l, err := r.elements(n, depth, build)
		if err != nil || !build {
			return nil, err
		}
		return Tuple(l), nil
	case TagNil:
		if !build {
			return nil, nil
		}
		return List{}, nil
	case TagString:
		n, ok := r.u16()
		if !ok {
			return nil, r.fail("truncated string")
		}
		b, ok := r.take(n)
		if !ok {
			return nil, r.fail("string longer than the input")
		}
		if !build {
			return nil, nil
		}
		// A STRING_EXT is a list of small integers (a charlist).
		l := make(List, n)
		for i, c := range b {
			l[i] = int64(c)
		}
		return l, nil
	case TagList:
		n, ok := r.count(1)
		if !ok {
			return nil, r.fail("truncated list")
		}
		l, err := r.elements(n, depth, build)
		if err != nil {
			return nil, err
		}
		if r.Peek() == TagNil {
			r.pos++
			if !build {
				return nil, nil
			}
			return List(l), nil
		}
		tail, err := r.value(depth+1, build)
		if err != nil || !build {
			return nil, err
		}
		if n == 0 {
			return tail, nil // [ | T] is T
		}
		return ImproperList{Elems: l, Tail: tail}, nil
	case TagMap:
		r.pos--
		n, err := r.Map()
		if err != nil {
			return nil, err
		}
		return r.mapPairs(n, depth, build)
	case TagNewPid, TagPid:
		node, err := r.value(depth+1, true)
		if err != nil {
			return nil, err
		}
		nodeAtom, isAtom := node.(Atom)
		var b []byte
		if tag == TagNewPid {
			b, ok = r.take(12)
		} else {
			b, ok = r.take(9)
		}
		if !isAtom || !ok {
			return nil, r.fail("bad pid")
		}
		p := Pid{Node: nodeAtom, ID: binary.BigEndian.Uint32(b), Serial: binary.BigEndian.Uint32(b[4:])}
		if tag == TagNewPid {
			p.Creation = binary.BigEndian.Uint32(b[8:])
		} else {
			p.Creation = uint32(b[8])
		}
		return p, nil
	case TagNewerRef, TagNewRef:
		n, ok := r.u16()
		if !ok {
			return nil, r.fail("truncated reference")
		}
		node, err := r.value(depth+1, true)
		if err != nil {
			return nil, err
		}
		nodeAtom, isAtom := node.(Atom)
		var creation uint32
		if tag == TagNewerRef {
			creation, ok = r.u32()
		} else {
			var c int
			c, ok = r.u8()
			creation = uint32(c)
		}
		ids, ok2 := r.take(4 * n)
		if !isAtom || !ok || !ok2 {
			return nil, r.fail("bad reference")
		}
		ref := Ref{Node: nodeAtom, Creation: creation, ID: make([]uint32, n)}
		for i := range ref.ID {
			ref.ID[i] = binary.BigEndian.Uint32(ids[4*i:])
		}
		return ref, nil
	}
	at := r.pos
	if err := r.skipOpaque(tag, depth); err != nil {
		return nil, err
	}
	if build {
		r.pos = at - 1
		return nil, &Error{Offset: at, Reason: "unsupported term type " + strconv.Itoa(tag), Unrepresentable: true}
	}
	return nil, nil
}

// skipOpaque reads past a term this package has no Go value for: funs,
// ports, bit strings. They are well formed, so Skip passes over them.
func (r *Reader) skipOpaque(tag, depth int) error {
	var ok bool
	switch tag {
	case TagNewFun:
		var size uint32
		if size, ok = r.u32(); ok && size >= 4 {
			_, ok = r.take(int(size) - 4)
		}
	case TagExport:
		for range 3 {
			if _, err := r.value(depth+1, false); err != nil {
				return err
			}
		}
		ok = true
	case TagBitBinary:
		var n int
		if n, ok = r.count(1); ok {
			_, ok = r.take(n + 1)
		}
	case TagPort, TagNewPort, TagV4Port:
		if _, err := r.value(depth+1, false); err != nil {
			return err
		}
		n := 5 // ID u32, creation u8
		if tag == TagNewPort {
			n = 8 // ID u32, creation u32
		} else if tag == TagV4Port {
			n = 12 // ID u64, creation u32
		}
		_, ok = r.take(n)
	default:
		r.pos--
		return &Error{Offset: r.pos + 1, Reason: "unknown term type " + strconv.Itoa(tag)}
	}
	if !ok {
		return r.fail("truncated term")
	}
	return nil
}

// bigInt reads the sign byte and n little-endian digit bytes of a big
// integer, returning an int64 when the value fits.
func (r *Reader) bigInt(n int) (any, error) {
	sign, ok := r.u8()
	if !ok {
		return nil, r.fail("truncated big integer")
	}
	digits, ok := r.take(n)
	if !ok {
		return nil, r.fail("big integer longer than the input")
	}
	if sign > 1 {
		return nil, r.fail("bad big integer sign")
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

// elements reads n terms; it returns nil without build.
func (r *Reader) elements(n, depth int, build bool) ([]any, error) {
	var l []any
	if build {
		l = make([]any, n)
	}
	for i := range n {
		v, err := r.value(depth+1, build)
		if err != nil {
			return nil, err
		}
		if build {
			l[i] = v
		}
	}
	return l, nil
}

func (r *Reader) mapPairs(n, depth int, build bool) (any, error) {
	var m Map
	if build {
		m = make(Map, n)
	}
	for i := range n {
		k, err := r.value(depth+1, build)
		if err != nil {
			return nil, err
		}
		v, err := r.value(depth+1, build)
		if err != nil {
			return nil, err
		}
		if build {
			m[i] = Pair{k, v}
		}
	}
	if !build {
		return nil, nil
	}
	return m, nil
}
