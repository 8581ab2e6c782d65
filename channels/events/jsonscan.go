package events

import (
	"encoding/json"
	"unicode/utf8"
)

// The scanner below reads the top level of one JSON object: it validates the
// whole text (RFC 8259) in one pass but decodes nothing below the top level,
// so a CloudEvent's data is only checked, never materialized.

// maxDepth bounds nesting, as encoding/json does (10000), so that hostile
// input cannot grow the stack without bound.
const maxDepth = 10000

// valueKind is the JSON type of a scanned value.
type valueKind uint8

const (
	kindNull valueKind = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindArray
	kindObject
)

// member is one top-level member of an object: its name (decoded) and its
// value's raw bytes.
type member struct {
	name string
	raw  []byte
	kind valueKind
}

// scanError says why a text is not what the scanner wants.
type scanError uint8

const (
	scanOK scanError = iota
	scanNotJSON
	scanNotObject
)

// scanObject appends the top-level members of the JSON object in data to
// dst, in order, after checking that data is exactly one valid JSON value.
// It reports scanNotObject for valid JSON of another type. It makes one pass
// over data.
func scanObject(data []byte, dst []member) ([]member, scanError) {
	if !utf8.Valid(data) {
		return dst, scanNotJSON
	}
	i := skipSpace(data, 0)
	if i >= len(data) {
		return dst, scanNotJSON
	}
	if data[i] != '{' {
		end, ok := skipValue(data, i, 0)
		if !ok || skipSpace(data, end) != len(data) {
			return dst, scanNotJSON
		}
		return dst, scanNotObject
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return dst, trailing(data, i+1)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return dst, scanNotJSON
		}
		kEnd, ok := skipString(data, i)
		if !ok {
			return dst, scanNotJSON
		}
		key := data[i:kEnd]
		i = skipSpace(data, kEnd)
		if i >= len(data) || data[i] != ':' {
			return dst, scanNotJSON
		}
		i = skipSpace(data, i+1)
		vEnd, ok := skipValue(data, i, 1)
		if !ok {
			return dst, scanNotJSON
		}
		dst = append(dst, member{name: keyName(key), raw: data[i:vEnd], kind: kindOf(data[i])})
		i = skipSpace(data, vEnd)
		if i >= len(data) {
			return dst, scanNotJSON
		}
		switch data[i] {
		case '}':
			return dst, trailing(data, i+1)
		case ',':
			i = skipSpace(data, i+1)
		default:
			return dst, scanNotJSON
		}
	}
}

// trailing reports whether only white space follows index i.
func trailing(data []byte, i int) scanError {
	if skipSpace(data, i) != len(data) {
		return scanNotJSON
	}
	return scanOK
}

func kindOf(c byte) valueKind {
	switch c {
	case 'n':
		return kindNull
	case 'f':
		return kindFalse
	case 't':
		return kindTrue
	case '"':
		return kindString
	case '[':
		return kindArray
	case '{':
		return kindObject
	}
	return kindNumber
}

// keyName returns the decoded name of a valid string token.
func keyName(tok []byte) string {
	if s, ok := plainString(tok); ok {
		return s
	}
	var s string
	_ = json.Unmarshal(tok, &s) // tok is valid: cannot fail
	return s
}

// unquote returns the value of a valid JSON string token.
func unquote(tok []byte) string { return keyName(tok) }

// plainString returns the content of a string token without escapes.
func plainString(tok []byte) (string, bool) {
	body := tok[1 : len(tok)-1]
	for _, c := range body {
		if c == '\\' {
			return "", false
		}
	}
	return string(body), true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// skipValue validates the value at data[i] and returns the index past it.
func skipValue(data []byte, i, depth int) (int, bool) {
	if i >= len(data) {
		return i, false
	}
	switch c := data[i]; {
	case c == '"':
		return skipString(data, i)
	case c == '{':
		return skipObject(data, i, depth+1)
	case c == '[':
		return skipArray(data, i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(data, i)
	case c == 't':
		return skipLiteral(data, i, "true")
	case c == 'f':
		return skipLiteral(data, i, "false")
	case c == 'n':
		return skipLiteral(data, i, "null")
	}
	return i, false
}

func skipLiteral(data []byte, i int, lit string) (int, bool) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

func skipObject(data []byte, i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return i, false
		}
		var ok bool
		if i, ok = skipString(data, i); !ok {
			return i, false
		}
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != ':' {
			return i, false
		}
		if i, ok = skipValue(data, skipSpace(data, i+1), depth); !ok {
			return i, false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, false
		}
		switch data[i] {
		case '}':
			return i + 1, true
		case ',':
			i = skipSpace(data, i+1)
		default:
			return i, false
		}
	}
}

func skipArray(data []byte, i, depth int) (int, bool) {
	if depth > maxDepth {
		return i, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = skipValue(data, i, depth); !ok {
			return i, false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, false
		}
		switch data[i] {
		case ']':
			return i + 1, true
		case ',':
			i = skipSpace(data, i+1)
		default:
			return i, false
		}
	}
}

// skipString validates the string token at data[i] (a '"'); the caller
// checked UTF-8 for the whole text.
func skipString(data []byte, i int) (int, bool) {
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(data) {
				return i, false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(data)-i < 5 || !isHex(data[i+1]) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) {
					return i, false
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// skipNumber validates the number token at data[i] (RFC 8259 section 6).
func skipNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return i, false
	}
	switch {
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return i, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		start := i
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		if i == start {
			return i, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		start := i
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		if i == start {
			return i, false
		}
	}
	return i, true
}
