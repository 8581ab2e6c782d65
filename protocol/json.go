package protocol

import (
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects the scanner accepts, so
// that hostile input cannot grow the stack without bound.
const maxDepth = 1000

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// scanValue validates the JSON value starting at data[i] (no leading space)
// and returns the index just past it.
func scanValue(data []byte, i, depth int) (int, *Error) {
	if i >= len(data) {
		return i, errorf(CodeNotJSON, "unexpected end of input")
	}
	switch c := data[i]; {
	case c == '"':
		end, _, err := scanString(data, i)
		return end, err
	case c == '{':
		return scanObject(data, i, depth+1)
	case c == '[':
		return scanArray(data, i, depth+1)
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(data, i)
	case c == 't':
		return scanLiteral(data, i, "true")
	case c == 'f':
		return scanLiteral(data, i, "false")
	case c == 'n':
		return scanLiteral(data, i, "null")
	}
	return i, errorf(CodeNotJSON, "unexpected character")
}

func scanLiteral(data []byte, i int, lit string) (int, *Error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return i, errorf(CodeNotJSON, "invalid literal")
	}
	return i + len(lit), nil
}

// errBadNumber is called only on failure: building the error up front cost
// two allocations per decode of a payload with numbers.
func errBadNumber() *Error { return errorf(CodeNotJSON, "invalid number") }

func scanNumber(data []byte, i int) (int, *Error) {
	if data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return i, errBadNumber()
	}
	switch {
	case data[i] == '0':
		i++
	case data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return i, errBadNumber()
	}
	if i < len(data) && data[i] == '.' {
		i++
		start := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == start {
			return i, errBadNumber()
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		start := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == start {
			return i, errBadNumber()
		}
	}
	return i, nil
}

// scanString validates the string starting at data[i] == '"' and returns the
// index past its closing quote and whether it holds escapes.
func scanString(data []byte, i int) (int, bool, *Error) {
	escaped := false
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			i++
			if i >= len(data) {
				return i, escaped, errorf(CodeNotJSON, "unterminated string")
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(data)-i < 5 || !isHex4(data[i+1:i+5]) {
					return i, escaped, errorf(CodeNotJSON, "invalid \\u escape")
				}
				i += 4
			default:
				return i, escaped, errorf(CodeNotJSON, "invalid escape")
			}
		case c < 0x20:
			return i, escaped, errorf(CodeNotJSON, "control character in string")
		}
	}
	return i, escaped, errorf(CodeNotJSON, "unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func scanArray(data []byte, i, depth int) (int, *Error) {
	if depth > maxDepth {
		return i, errorf(CodeTooDeep, "")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	for {
		var err *Error
		if i, err = scanValue(data, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, errorf(CodeNotJSON, "unterminated array")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, errorf(CodeNotJSON, "expected , or ] in array")
		}
	}
}

func scanObject(data []byte, i, depth int) (int, *Error) {
	if depth > maxDepth {
		return i, errorf(CodeTooDeep, "")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return i, errorf(CodeNotJSON, "expected object key")
		}
		var err *Error
		if i, _, err = scanString(data, i); err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != ':' {
			return i, errorf(CodeNotJSON, "expected : after object key")
		}
		if i, err = scanValue(data, skipSpace(data, i+1), depth); err != nil {
			return i, err
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, errorf(CodeNotJSON, "unterminated object")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, errorf(CodeNotJSON, "expected , or } in object")
		}
	}
}

// unquoteJSON decodes a JSON string token (quotes included) that scanString
// accepted. ok is false if the token is not a string.
func unquoteJSON(tok []byte) (string, bool) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return "", false
	}
	s := tok[1 : len(tok)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", false
		}
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if len(s)-i < 5 {
				return "", false
			}
			r := rune(hex4(s[i+1 : i+5]))
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if len(s)-i >= 7 && s[i+1] == '\\' && s[i+2] == 'u' {
					if d := utf16.DecodeRune(r, rune(hex4(s[i+3:i+7]))); d != utf8.RuneError {
						r2 = d
						i += 6
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return string(out), true
}

func hex4(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= int(c - '0')
		case c >= 'a' && c <= 'f':
			n |= int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			n |= int(c-'A') + 10
		}
	}
	return n
}

const hexDigits = "0123456789abcdef"

// needsEscape reports whether byte c must be escaped inside a JSON string.
func needsEscape(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }

// jsonStringLen returns the length of appendJSONString(nil, s).
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += 6 // \ufffd
		} else {
			n += size
		}
		i += size
	}
	return n
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// \ufffd, as encoding/json does, so the output is always valid UTF-8.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !needsEscape(c) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(append(dst, s[start:]...), '"')
}
