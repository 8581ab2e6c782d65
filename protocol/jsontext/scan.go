package jsontext

import "strconv"

// DefaultMaxDepth is the nesting limit of the zero Scanner: that of
// encoding/json, so that the zero Scanner accepts what json.Valid accepts.
const DefaultMaxDepth = 10000

// Scanner validates JSON text. The zero value is ready to use; a Scanner is
// a value with no state and is safe for concurrent use.
type Scanner struct {
	// MaxDepth bounds how deeply arrays and objects nest, the outermost
	// counting 1: deeper text is a *SyntaxError with TooDeep set. Zero (or
	// less) means DefaultMaxDepth.
	MaxDepth int
}

func (s Scanner) maxDepth() int {
	if s.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return s.MaxDepth
}

// SyntaxError says why a text is not one valid JSON value, and where.
type SyntaxError struct {
	// Offset is the index of the byte where the problem was found:
	// len(data) when the text ends too early.
	Offset int
	// Reason says what is wrong, as a phrase: "invalid number",
	// "unterminated string", "expected : after object key", ...
	Reason string
	// TooDeep is set when arrays and objects nest deeper than the
	// Scanner's MaxDepth. The text up to Offset was valid JSON.
	TooDeep bool
}

// Error returns "jsontext: <reason> at offset <n>".
func (e *SyntaxError) Error() string {
	return "jsontext: " + e.Reason + " at offset " + strconv.Itoa(e.Offset)
}

// syntaxError builds the error of a failed scan. Errors are built only at
// the point of failure, so that the success path never allocates.
func syntaxError(i int, reason string) error { return &SyntaxError{Offset: i, Reason: reason} }

func tooDeep(i int) error { return &SyntaxError{Offset: i, Reason: "nested too deeply", TooDeep: true} }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space (space, tab, line feed, carriage return), or len(data).
// An i outside data is returned as it is.
func SkipSpace(data []byte, i int) int {
	// uint comparisons: a negative i ends the loop instead of panicking.
	for uint(i) < uint(len(data)) && isSpace(data[i]) {
		i++
	}
	return i
}

// Valid reports whether data is exactly one JSON value, with optional white
// space around it.
func (s Scanner) Valid(data []byte) bool {
	i := SkipSpace(data, 0)
	end, err := s.Value(data, i)
	return err == nil && SkipSpace(data, end) == len(data)
}

// Value validates the JSON value that starts at data[i] (white space is not
// skipped) and returns the index just past it. What follows the value is not
// looked at. On error, end is the error's Offset.
func (s Scanner) Value(data []byte, i int) (end int, err error) {
	if i < 0 {
		return i, syntaxError(i, "offset out of range")
	}
	return scanValue(data, i, 0, s.maxDepth())
}

// Members validates the object that starts at data[i] (a '{') and returns
// the index just past it. It calls member, when not nil, with each top-level
// member's raw key and value tokens, in order, duplicates included: key is a
// JSON string token, quotes and escapes included (see Unquote), value a whole
// JSON value. Tokens alias data, with their capacity ending where they end.
//
// Members calls member as it goes: when it returns an error, member may have
// been called for the members before the fault, and what it collected should
// be dropped. What follows the object is not looked at.
func (s Scanner) Members(data []byte, i int, member func(key, value []byte)) (end int, err error) {
	if uint(i) >= uint(len(data)) {
		return i, syntaxError(i, "unexpected end of input")
	}
	if data[i] != '{' {
		return i, syntaxError(i, "expected object")
	}
	return scanObject(data, i, 1, s.maxDepth(), member)
}

// Elements validates the array that starts at data[i] (a '[') and returns
// the index just past it. It calls element, when not nil, with each
// top-level element's raw token, in order. Tokens alias data, with their
// capacity ending where they end.
//
// Elements calls element as it goes: when it returns an error, element may
// have been called for the elements before the fault, and what it collected
// should be dropped. What follows the array is not looked at.
func (s Scanner) Elements(data []byte, i int, element func(value []byte)) (end int, err error) {
	if uint(i) >= uint(len(data)) {
		return i, syntaxError(i, "unexpected end of input")
	}
	if data[i] != '[' {
		return i, syntaxError(i, "expected array")
	}
	return scanArray(data, i, 1, s.maxDepth(), element)
}

// scanValue validates the value at data[i], inside containers nested depth
// deep, and returns the index past it.
func scanValue(data []byte, i, depth, limit int) (int, error) {
	if i >= len(data) {
		return i, syntaxError(i, "unexpected end of input")
	}
	switch c := data[i]; {
	case c == '"':
		end, _, err := scanString(data, i)
		return end, err
	case c == '{':
		return scanObject(data, i, depth+1, limit, nil)
	case c == '[':
		return scanArray(data, i, depth+1, limit, nil)
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(data, i)
	case c == 't':
		return scanLiteral(data, i, "true")
	case c == 'f':
		return scanLiteral(data, i, "false")
	case c == 'n':
		return scanLiteral(data, i, "null")
	}
	return i, syntaxError(i, "unexpected character")
}

func scanLiteral(data []byte, i int, lit string) (int, error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return i, syntaxError(i, "invalid literal")
	}
	return i + len(lit), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber validates the number at data[i] (RFC 8259 section 6).
func scanNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return i, syntaxError(i, "invalid number")
	}
	switch {
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return i, syntaxError(i, "invalid number")
	}
	if i < len(data) && data[i] == '.' {
		i++
		start := i
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		if i == start {
			return i, syntaxError(i, "invalid number")
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
			return i, syntaxError(i, "invalid number")
		}
	}
	return i, nil
}

// plain[c] is true for the bytes that stand for themselves in a string:
// all but '"', '\\' and the control characters.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString validates the string at data[i] (a '"') and returns the index
// past its closing quote and whether it holds escapes.
func scanString(data []byte, i int) (int, bool, error) {
	escaped := false
	for i++; ; i++ {
		// One table lookup per byte: most bytes of a string are plain.
		for i < len(data) && plain[data[i]] {
			i++
		}
		if i >= len(data) {
			return i, escaped, syntaxError(i, "unterminated string")
		}
		switch data[i] {
		case '"':
			return i + 1, escaped, nil
		case '\\':
			escaped = true
			i++
			if i >= len(data) {
				return i, escaped, syntaxError(i, "unterminated string")
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(data)-i < 5 || !isHex4(data[i+1:i+5]) {
					return i, escaped, syntaxError(i, `invalid \u escape`)
				}
				i += 4
			default:
				return i, escaped, syntaxError(i, "invalid escape")
			}
		default:
			return i, escaped, syntaxError(i, "control character in string")
		}
	}
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isHex4(b []byte) bool {
	return len(b) >= 4 && isHex(b[0]) && isHex(b[1]) && isHex(b[2]) && isHex(b[3])
}

func scanArray(data []byte, i, depth, limit int, element func([]byte)) (int, error) {
	if depth > limit {
		return i, tooDeep(i)
	}
	i = SkipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	for {
		start := i
		var err error
		if i, err = scanValue(data, i, depth, limit); err != nil {
			return i, err
		}
		if element != nil {
			element(data[start:i:i])
		}
		var done bool
		if i, done, err = afterValue(data, i, ']', "unterminated array", "expected , or ] in array"); done || err != nil {
			return i, err
		}
	}
}

// afterValue reads what follows a value in an array or object: a comma (the
// next value starts at next) or the closing byte (done).
func afterValue(data []byte, i int, closing byte, unterminated, unexpected string) (next int, done bool, err error) {
	i = SkipSpace(data, i)
	switch {
	case i >= len(data):
		return i, false, syntaxError(i, unterminated)
	case data[i] == ',':
		return SkipSpace(data, i+1), false, nil
	case data[i] == closing:
		return i + 1, true, nil
	}
	return i, false, syntaxError(i, unexpected)
}

func scanObject(data []byte, i, depth, limit int, member func(key, value []byte)) (int, error) {
	if depth > limit {
		return i, tooDeep(i)
	}
	i = SkipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return i, syntaxError(i, "expected object key")
		}
		keyStart := i
		var err error
		if i, _, err = scanString(data, i); err != nil {
			return i, err
		}
		keyEnd := i
		i = SkipSpace(data, i)
		if i >= len(data) || data[i] != ':' {
			return i, syntaxError(i, "expected : after object key")
		}
		start := SkipSpace(data, i+1)
		if i, err = scanValue(data, start, depth, limit); err != nil {
			return i, err
		}
		if member != nil {
			member(data[keyStart:keyEnd:keyEnd], data[start:i:i])
		}
		var done bool
		if i, done, err = afterValue(data, i, '}', "unterminated object", "expected , or } in object"); done || err != nil {
			return i, err
		}
	}
}
