package phxtoken

import (
	"errors"

	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// decodeTerm reads a whole External Term Format value: the version byte,
// then a term, possibly zlib-compressed, and nothing after it. A compressed
// term larger than maxInflated bytes (which must be positive) is refused.
// It never panics, and its allocations are bounded by a small multiple of
// the (inflated) input. The bytes are read by etf.Reader; decodeTerm builds
// the Go values of the package doc and refuses the terms that have none
// there (pids, references, funs, improper lists, FLOAT_EXT), tuple, list
// and big integer map keys, and duplicate keys, as binary_to_term does.
func decodeTerm(b []byte, maxInflated int) (any, error) {
	r, err := etf.NewReader(b, maxInflated)
	if err != nil {
		return nil, termErr(err)
	}
	v, err := term(r, 0)
	if err != nil {
		return nil, err
	}
	if !r.Done() {
		return nil, fail(r, "trailing bytes")
	}
	return v, nil
}

// termErr turns an error of package etf into a termError.
func termErr(err error) error {
	if e, ok := errors.AsType[*etf.Error](err); ok {
		return &termError{e.Reason, e.Offset}
	}
	return &termError{err.Error(), 0}
}

// fail returns a termError at the Reader's position (+1 for the version
// byte, as etf counts).
func fail(r *etf.Reader, reason string) error {
	return &termError{reason, r.Mark() + 1}
}

// term reads one term at nesting depth.
func term(r *etf.Reader, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fail(r, "nested too deeply")
	}
	if r.Done() {
		return nil, fail(r, "truncated")
	}
	switch r.Peek() {
	case etf.TagSmallInteger, etf.TagInteger, etf.TagSmallBig, etf.TagLargeBig,
		etf.TagNewFloat, etf.TagBinary, etf.TagNil, etf.TagString:
		v, err := r.Term()
		if err != nil {
			return nil, termErr(err)
		}
		if l, ok := v.(etf.List); ok { // [] or a STRING_EXT charlist
			return []any(l), nil
		}
		return v, nil
	case etf.TagAtom, etf.TagAtomUTF8, etf.TagSmallAtom, etf.TagSmallAtomUTF8:
		b, err := r.AtomBytes()
		if err != nil {
			return nil, termErr(err)
		}
		switch string(b) {
		case "nil":
			return nil, nil
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return Atom(b), nil
	case etf.TagSmallTuple, etf.TagLargeTuple:
		n, err := r.Tuple()
		if err != nil {
			return nil, termErr(err)
		}
		l, err := elements(r, n, depth)
		if err != nil {
			return nil, err
		}
		return Tuple(l), nil
	case etf.TagList:
		n, err := r.List()
		if err != nil {
			return nil, termErr(err)
		}
		l, err := elements(r, n, depth)
		if err != nil {
			return nil, err
		}
		if r.Peek() != etf.TagNil {
			return nil, fail(r, "improper lists are not supported")
		}
		if err := r.Skip(); err != nil { // the [] tail
			return nil, termErr(err)
		}
		return l, nil
	case etf.TagMap:
		n, err := r.Map()
		if err != nil {
			return nil, termErr(err)
		}
		return mapTerm(r, n, depth)
	}
	return nil, fail(r, "unsupported term type")
}

// elements reads the n elements of a tuple or list; etf.Reader has checked
// n against the bytes left, each element taking at least one.
func elements(r *etf.Reader, n, depth int) ([]any, error) {
	l := make([]any, n)
	for i := range l {
		v, err := term(r, depth+1)
		if err != nil {
			return nil, err
		}
		l[i] = v
	}
	return l, nil
}

// mapTerm reads the n key/value pairs of a map. Keys must be scalars that
// Go can hash by value; duplicates are refused, as binary_to_term does.
func mapTerm(r *etf.Reader, n, depth int) (any, error) {
	m := make(map[any]any, n)
	for range n {
		at := r.Mark()
		k, err := term(r, depth+1)
		if err != nil {
			return nil, err
		}
		switch k.(type) {
		case int64, float64, string, Atom, bool, nil:
		default:
			return nil, &termError{"unsupported map key type", at + 1}
		}
		if _, dup := m[k]; dup {
			return nil, &termError{"duplicate map key", at + 1}
		}
		v, err := term(r, depth+1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}
