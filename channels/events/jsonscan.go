package events

import (
	"slices"
	"unicode/utf8"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

// scanner reads JSON for the channel: it validates a whole text (RFC 8259)
// in one pass but decodes nothing below the top level, so a CloudEvent's
// data is only checked, never materialized. It bounds nesting as
// encoding/json does (10000), so that hostile input cannot grow the stack
// without bound.
var scanner = jsontext.Scanner{MaxDepth: jsontext.DefaultMaxDepth}

// The JSON types of a member's value.
const (
	kindNull   = jsontext.Null
	kindFalse  = jsontext.False
	kindTrue   = jsontext.True
	kindNumber = jsontext.Number
	kindString = jsontext.String
	kindArray  = jsontext.Array
	kindObject = jsontext.Object
)

// member is one top-level member of an object: its name (decoded) and its
// value's raw bytes.
type member struct {
	name string
	raw  []byte
	kind jsontext.Kind
	dup  bool // the name appears again later in the object (set by validator.add)
}

// scanError says why a text is not what the scanner wants.
type scanError uint8

const (
	scanOK scanError = iota
	scanNotJSON
	scanNotObject
)

// scanObject appends the top-level members of the JSON object in data to
// dst, in order, duplicates included, after checking that data is exactly
// one valid JSON value in valid UTF-8. It reports scanNotObject for valid
// JSON of another type. It makes one pass over data.
func scanObject(data []byte, dst []member) ([]member, scanError) {
	if !utf8.Valid(data) {
		return dst, scanNotJSON
	}
	i := jsontext.SkipSpace(data, 0)
	if i >= len(data) {
		return dst, scanNotJSON
	}
	if data[i] != '{' {
		if !scanner.Valid(data) {
			return dst, scanNotJSON
		}
		return dst, scanNotObject
	}
	end, err := scanner.Members(data, i, func(key, value []byte) {
		if len(dst) == cap(dst) {
			// Double: append grows large slices by a quarter, which
			// allocates five times the final size in all, not two.
			dst = slices.Grow(dst, len(dst))
		}
		dst = append(dst, member{name: unquote(key), raw: value, kind: jsontext.KindOf(value)})
	})
	if err != nil || jsontext.SkipSpace(data, end) != len(data) {
		return dst, scanNotJSON
	}
	return dst, scanOK
}

// unquote returns the value of a valid JSON string token.
func unquote(tok []byte) string {
	s, _ := jsontext.Unquote(tok)
	return s
}
