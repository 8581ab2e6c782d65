package protocol

import (
	"strconv"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

// Ref is an opaque message reference (a join_ref or a ref). A server echoes
// refs exactly as it received them, JSON type included: a numeric ref comes
// back as a number and null stays null. The zero Ref is null.
type Ref struct {
	v    string  // the string value (refString) or the raw JSON token (refRaw)
	kind refKind // null, string, raw
}

type refKind uint8

const (
	refNull refKind = iota
	refString
	refRaw
)

// StringRef returns a Ref holding the string s.
func StringRef(s string) Ref { return Ref{v: s, kind: refString} }

// RawRef returns a Ref holding a JSON token, echoed verbatim when encoded as
// JSON. The caller guarantees tok is a single valid JSON value; "null" gives
// the null Ref.
func RawRef(tok string) Ref {
	if tok == "null" || tok == "" {
		return Ref{}
	}
	return Ref{v: tok, kind: refRaw}
}

// IsNull reports whether r is JSON null.
func (r Ref) IsNull() bool { return r.kind == refNull }

// String returns the ref as text: a string's value, a number's digits, or ""
// for null. Binary frames carry refs in this form.
func (r Ref) String() string {
	if r.kind != refRaw {
		return r.v
	}
	if len(r.v) > 0 && r.v[0] == '"' {
		if s, err := strconv.Unquote(r.v); err == nil {
			return s
		}
		if s, ok := jsontext.Unquote([]byte(r.v)); ok {
			return s
		}
	}
	return r.v
}

// JSON returns the ref as the JSON token it encodes to.
func (r Ref) JSON() string {
	switch r.kind {
	case refString:
		return string(jsontext.AppendQuote(nil, r.v))
	case refRaw:
		return r.v
	}
	return "null"
}

// Equal reports whether r and o are the same reference. A string ref equals
// a raw JSON string token with the same value, so a binary push matches a
// join made over JSON.
func (r Ref) Equal(o Ref) bool {
	if r.kind == o.kind && r.v == o.v {
		return true
	}
	if r.kind == refNull || o.kind == refNull || r.kind == refString && o.kind == refString {
		return false
	}
	// Two string tokens may spell one string differently ("\/" and "/").
	if r.kind == refRaw && (len(r.v) == 0 || r.v[0] != '"') || o.kind == refRaw && (len(o.v) == 0 || o.v[0] != '"') {
		return false
	}
	return r.String() == o.String()
}

func (r Ref) appendJSON(dst []byte) []byte {
	switch r.kind {
	case refString:
		return jsontext.AppendQuote(dst, r.v)
	case refRaw:
		return append(dst, r.v...)
	}
	return append(dst, "null"...)
}

func (r Ref) jsonLen() int {
	switch r.kind {
	case refString:
		return jsontext.QuotedLen(r.v)
	case refRaw:
		return len(r.v)
	}
	return 4
}
