package etf

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

// JSON and terms, as a Phoenix app sees them: Jason decodes a client's
// JSON into terms, and encodes the terms of a broadcast into the JSON its
// clients receive.

// jsonScanner validates JSON before AppendFromJSON walks it. Its depth
// bound is the decoder's, so whatever AppendFromJSON writes Decode reads.
var jsonScanner = jsontext.Scanner{MaxDepth: MaxDepth - 1}

// AppendFromJSON appends the term Jason decodes the JSON value data to:
// objects become maps with binary keys (the last of duplicate keys wins,
// and keys are written in term order, as term_to_binary writes maps of up
// to 32 keys), arrays lists, strings binaries, numbers integers of any
// size (no '.', 'e' or 'E') or floats, and true, false and null the atoms
// true, false and nil. Bytes of invalid UTF-8 in strings become U+FFFD.
//
// It fails, with an *Error, for text that is not one JSON value, nesting
// deeper than MaxDepth, integers over MaxBigBytes and floats beyond
// float64 (1e999). Its work is linear in len(data) times the nesting
// depth (each level's encoded members are copied once when sorted).
func AppendFromJSON(dst, data []byte) ([]byte, error) {
	if !jsonScanner.Valid(data) {
		return dst, &Error{Offset: -1, Reason: "not one JSON value (or nested too deeply)", Unrepresentable: true}
	}
	c := fromJSON{data: data}
	start := len(dst)
	out, _, err := c.value(dst, jsontext.SkipSpace(data, 0))
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// fromJSON walks JSON that jsonScanner accepted. It still checks every
// index, so that it cannot panic whatever the input.
type fromJSON struct {
	data    []byte
	keys    []member // stack of the members of the objects being written
	keyText []byte   // unquoted keys, which members point into
	tmp     []byte   // an object's encoded values while it is sorted
}

type member struct {
	kFrom, kTo int // the unquoted key, as offsets into keyText
	from, to   int // the value's encoding, as offsets into dst
}

func (c *fromJSON) key(m member) []byte { return c.keyText[m.kFrom:m.kTo] }

var errJSONStructure = &Error{Offset: -1, Reason: "unexpected JSON structure"}

func (c *fromJSON) at(i int) byte {
	if i < 0 || i >= len(c.data) {
		return 0
	}
	return c.data[i]
}

// value appends the term of the JSON value at data[i] and returns the
// index past it.
func (c *fromJSON) value(dst []byte, i int) ([]byte, int, error) {
	switch c.at(i) {
	case '{':
		return c.object(dst, i)
	case '[':
		return c.array(dst, i)
	case '"':
		end, err := jsonScanner.Value(c.data, i)
		if err != nil {
			return dst, i, errJSONStructure
		}
		at := len(dst)
		dst = append(dst, TagBinary, 0, 0, 0, 0)
		var ok bool
		if dst, ok = jsontext.AppendUnquote(dst, c.data[i:end]); !ok {
			return dst, i, errJSONStructure
		}
		if !utf8.Valid(dst[at+5:]) {
			fixed := appendValidUTF8(nil, dst[at+5:])
			dst = append(dst[:at+5], fixed...)
		}
		binary.BigEndian.PutUint32(dst[at+1:], uint32(len(dst)-at-5))
		return dst, end, nil
	case 't':
		return append(dst, atomTrue...), i + 4, nil
	case 'f':
		return append(dst, atomFalse...), i + 5, nil
	case 'n':
		return append(dst, atomNil...), i + 4, nil
	}
	end, err := jsonScanner.Value(c.data, i)
	if err != nil {
		return dst, i, errJSONStructure
	}
	dst, err = appendJSONNumber(dst, c.data[i:end])
	return dst, end, err
}

// Atoms JSON literals become, as ATOM_EXT.
var (
	atomTrue  = []byte{TagAtom, 0, 4, 't', 'r', 'u', 'e'}
	atomFalse = []byte{TagAtom, 0, 5, 'f', 'a', 'l', 's', 'e'}
	atomNil   = []byte{TagAtom, 0, 3, 'n', 'i', 'l'}
)

// appendValidUTF8 appends s with each byte of invalid UTF-8 replaced by
// U+FFFD, as encoding/json does.
func appendValidUTF8(dst, s []byte) []byte {
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return dst
}

func appendJSONNumber(dst, tok []byte) ([]byte, error) {
	if bytes.ContainsAny(tok, ".eE") {
		f, err := strconv.ParseFloat(string(tok), 64)
		if err != nil && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return dst, unrepresentable(-1, "number beyond float64")
		}
		return AppendFloat(dst, f)
	}
	if len(tok) <= 18 {
		i, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			return dst, errJSONStructure
		}
		return AppendInt(dst, i), nil
	}
	if len(tok) > 2468 { // more digits than 8192 bits hold
		return dst, unrepresentable(-1, "integer over 8192 bits")
	}
	x, ok := new(big.Int).SetString(string(tok), 10)
	if !ok {
		return dst, errJSONStructure
	}
	return AppendBigInt(dst, x)
}

// object appends a map: members are encoded in JSON order, then written
// again sorted by key, the last of equal keys kept.
func (c *fromJSON) object(dst []byte, i int) ([]byte, int, error) {
	i = jsontext.SkipSpace(c.data, i+1)
	base := len(c.keys)
	defer func() { c.keys = c.keys[:base] }()
	start := len(dst)
	var err error
	for c.at(i) != '}' {
		end, kerr := jsonScanner.Value(c.data, i)
		if kerr != nil || c.at(i) != '"' {
			return dst, i, errJSONStructure
		}
		kFrom := len(c.keyText)
		var ok bool
		if c.keyText, ok = jsontext.AppendUnquote(c.keyText, c.data[i:end]); !ok {
			return dst, i, errJSONStructure
		}
		if !utf8.Valid(c.keyText[kFrom:]) {
			fixed := appendValidUTF8(nil, c.keyText[kFrom:])
			c.keyText = append(c.keyText[:kFrom], fixed...)
		}
		kTo := len(c.keyText) // before the value's own keys
		i = jsontext.SkipSpace(c.data, end)
		if c.at(i) != ':' {
			return dst, i, errJSONStructure
		}
		from := len(dst)
		if dst, i, err = c.value(dst, jsontext.SkipSpace(c.data, i+1)); err != nil {
			return dst, i, err
		}
		c.keys = append(c.keys, member{kFrom: kFrom, kTo: kTo, from: from, to: len(dst)})
		if i = jsontext.SkipSpace(c.data, i); c.at(i) == ',' {
			i = jsontext.SkipSpace(c.data, i+1)
		} else if c.at(i) != '}' {
			return dst, i, errJSONStructure
		}
	}
	members := c.keys[base:]
	slices.SortStableFunc(members, func(a, b member) int { return bytes.Compare(c.key(a), c.key(b)) })
	kept := members[:0]
	for j, m := range members {
		if j+1 < len(members) && bytes.Equal(c.key(members[j+1]), c.key(m)) {
			continue // a later duplicate wins, as in Jason
		}
		kept = append(kept, m)
	}
	// Nested objects are done with tmp by now, so one buffer serves all.
	c.tmp = append(c.tmp[:0], dst[start:]...)
	dst = AppendMapHeader(dst[:start], len(kept))
	for _, m := range kept {
		dst = append(dst, TagBinary)
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.kTo-m.kFrom))
		dst = append(dst, c.key(m)...)
		dst = append(dst, c.tmp[m.from-start:m.to-start]...)
	}
	return dst, i + 1, nil
}

// array appends a list, or STRING_EXT for a list of integers 0..255, as
// term_to_binary writes it.
func (c *fromJSON) array(dst []byte, i int) ([]byte, int, error) {
	i = jsontext.SkipSpace(c.data, i+1)
	if c.at(i) == ']' {
		return AppendNil(dst), i + 1, nil
	}
	at := len(dst)
	dst = AppendListHeader(dst, 0)
	n, bytesOnly := 0, true
	var err error
	for {
		from := len(dst)
		if dst, i, err = c.value(dst, i); err != nil {
			return dst, i, err
		}
		n++
		bytesOnly = bytesOnly && len(dst)-from == 2 && dst[from] == TagSmallInteger
		if i = jsontext.SkipSpace(c.data, i); c.at(i) == ',' {
			i = jsontext.SkipSpace(c.data, i+1)
			continue
		}
		if c.at(i) != ']' {
			return dst, i, errJSONStructure
		}
		break
	}
	if bytesOnly && n <= math.MaxUint16 {
		dst[at] = TagString
		binary.BigEndian.PutUint16(dst[at+1:], uint16(n))
		w := at + 3
		for k := range n {
			dst[w+k] = dst[at+5+2*k+1]
		}
		return dst[:w+n], i + 1, nil
	}
	binary.BigEndian.PutUint32(dst[at+1:], uint32(n))
	return AppendNil(dst), i + 1, nil
}

// AppendJSON reads one term and appends the JSON Jason encodes it to,
// which is what a Phoenix node sends its clients: maps become objects
// (keys that are binaries, atoms or numbers, as strings), lists and
// charlists arrays, binaries strings, nil, true and false null, true and
// false, other atoms strings, numbers JSON numbers (floats as Erlang
// prints them, 1.0e20). It fails with an Unrepresentable *Error where
// Jason would raise: tuples, pids, references, improper lists, structs,
// binaries that are not UTF-8. On error the Reader's position is
// undefined and dst holds a partial value: discard both.
func (r *Reader) AppendJSON(dst []byte) ([]byte, error) { return r.appendJSON(dst, 0) }

func (r *Reader) appendJSON(dst []byte, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, r.fail("nested too deeply")
	}
	switch tag := r.Peek(); tag {
	case TagAtom, TagAtomUTF8, TagSmallAtom, TagSmallAtomUTF8:
		a, err := r.AtomBytes()
		if err != nil {
			return dst, err
		}
		switch string(a) {
		case "nil":
			return append(dst, "null"...), nil
		case "true", "false":
			return append(dst, a...), nil
		}
		return appendQuoted(dst, a), nil
	case TagBinary:
		at := r.pos
		b, err := r.Binary()
		if err != nil {
			return dst, err
		}
		if !utf8.Valid(b) {
			return dst, unrepresentable(at+1, "binary is not UTF-8")
		}
		return appendQuoted(dst, b), nil
	case TagMap:
		n, err := r.Map()
		if err != nil {
			return dst, err
		}
		dst = append(dst, '{')
		for k := range n {
			if k > 0 {
				dst = append(dst, ',')
			}
			if dst, err = r.appendJSONKey(dst); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = r.appendJSON(dst, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case TagNil:
		r.pos++
		return append(dst, "[]"...), nil
	case TagString:
		r.pos++
		n, ok := r.u16()
		b, ok2 := r.take(n)
		if !ok || !ok2 {
			return dst, r.fail("truncated string")
		}
		dst = append(dst, '[')
		for k, c := range b {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendInt(dst, int64(c), 10)
		}
		return append(dst, ']'), nil
	case TagList:
		n, err := r.List()
		if err != nil {
			return dst, err
		}
		dst = append(dst, '[')
		for k := range n {
			if k > 0 {
				dst = append(dst, ',')
			}
			if dst, err = r.appendJSON(dst, depth+1); err != nil {
				return dst, err
			}
		}
		if r.Peek() != TagNil {
			return dst, unrepresentable(r.pos+1, "improper list")
		}
		r.pos++
		return append(dst, ']'), nil
	case TagSmallInteger, TagInteger, TagSmallBig, TagLargeBig, TagNewFloat, TagFloat:
		v, err := r.value(depth, true)
		if err != nil {
			return dst, err
		}
		return appendJSONScalarNumber(dst, v), nil
	default:
		at := r.pos
		if err := r.Skip(); err != nil {
			return dst, err
		}
		return dst, unrepresentable(at+1, "no JSON for term type "+strconv.Itoa(int(tag)))
	}
}

// appendJSONKey appends a map key as a JSON string: Jason writes binaries
// and atoms as their text and numbers as they print. A struct (a map with
// the key __struct__) is refused: Jason encodes only those that derive
// its encoder, which a receiver cannot know.
func (r *Reader) appendJSONKey(dst []byte) ([]byte, error) {
	at := r.pos
	switch r.Peek() {
	case TagBinary:
		b, err := r.Binary()
		if err != nil {
			return dst, err
		}
		if !utf8.Valid(b) {
			return dst, unrepresentable(at+1, "map key is not UTF-8")
		}
		return appendQuoted(dst, b), nil
	case TagAtom, TagAtomUTF8, TagSmallAtom, TagSmallAtomUTF8:
		a, err := r.AtomBytes()
		if err != nil {
			return dst, err
		}
		if string(a) == "__struct__" {
			return dst, unrepresentable(at+1, "a struct")
		}
		return appendQuoted(dst, a), nil
	case TagSmallInteger, TagInteger, TagSmallBig, TagLargeBig, TagNewFloat, TagFloat:
		v, err := r.value(0, true)
		if err != nil {
			return dst, err
		}
		dst = append(dst, '"')
		return append(appendJSONScalarNumber(dst, v), '"'), nil
	}
	if err := r.Skip(); err != nil {
		return dst, err
	}
	return dst, unrepresentable(at+1, "map key has no JSON form")
}

func appendQuoted(dst, s []byte) []byte {
	return jsontext.AppendQuote(dst, unsafeString(s))
}

func appendJSONScalarNumber(dst []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case *big.Int:
		return x.Append(dst, 10)
	case float64:
		return AppendErlangFloat(dst, x)
	}
	return dst
}

// AppendErlangFloat appends f as Erlang prints it (io_lib_format:fwrite_g,
// which Jason and Elixir's Float.to_string use): the shortest digits that
// read back as f, in positional notation ("0.001", "123.5", "100.0") or
// scientific ("1.0e-5", "1.2e3"), whichever is shorter, positional on a
// tie, scientific for integral values from 2^53 up. f must be finite.
func AppendErlangFloat(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], math.Abs(f), 'e', -1, 64) // d[.ddd]e±XX
	mark := bytes.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(string(e[mark+1:]))
	var digits []byte
	digits = append(digits, e[0])
	if mark > 1 {
		digits = append(digits, e[2:mark]...)
	}
	if f < 0 {
		dst = append(dst, '-')
	}
	n := len(digits)
	place := exp + 1 // the value is 0.digits × 10^place
	expText := strconv.Itoa(exp)
	sciLen := n + 1 + 1 + len(expText) // d.ddd e exp
	if n == 1 {
		sciLen++ // d.0
	}
	var posLen int
	switch {
	case place <= 0:
		posLen = 2 - place + n // 0.000ddd
	case place < n:
		posLen = n + 1 // dd.ddd
	case math.Abs(f) >= 1<<53:
		posLen = math.MaxInt // past float64's integers Erlang never writes ddd000.0
	default:
		posLen = place + 2 // ddd000.0
	}
	if posLen <= sciLen {
		switch {
		case place <= 0:
			dst = append(dst, '0', '.')
			for range -place {
				dst = append(dst, '0')
			}
			return append(dst, digits...)
		case place < n:
			dst = append(dst, digits[:place]...)
			dst = append(dst, '.')
			return append(dst, digits[place:]...)
		default:
			dst = append(dst, digits...)
			for range place - n {
				dst = append(dst, '0')
			}
			return append(dst, '.', '0')
		}
	}
	dst = append(dst, digits[0], '.')
	if n == 1 {
		dst = append(dst, '0')
	} else {
		dst = append(dst, digits[1:]...)
	}
	dst = append(dst, 'e')
	return append(dst, expText...)
}

// unsafeString views s as a string for a call that does not keep it.
func unsafeString(s []byte) string { return unsafe.String(unsafe.SliceData(s), len(s)) }
