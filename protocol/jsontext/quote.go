package jsontext

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Unquote returns the value of tok, a JSON string token (quotes included),
// as encoding/json decodes it, except that bytes of invalid UTF-8 are kept
// as they are. ok is false when tok is not exactly one valid string token.
// It allocates the string only: one allocation, or two for an escaped
// string that decodes to more than 64 bytes.
func Unquote(tok []byte) (s string, ok bool) {
	end, escaped, err := scanString(tok, 0)
	if len(tok) == 0 || tok[0] != '"' || err != nil || end != len(tok) {
		return "", false
	}
	body := tok[1 : len(tok)-1]
	if !escaped {
		return string(body), true
	}
	var buf [64]byte
	return string(appendUnescaped(buf[:0], body)), true
}

// AppendUnquote appends the value of tok, a JSON string token, to dst as
// Unquote decodes it. ok is false, and dst returned as it is, when tok is
// not exactly one valid string token. It allocates only to grow dst.
func AppendUnquote(dst, tok []byte) (_ []byte, ok bool) {
	end, escaped, err := scanString(tok, 0)
	if len(tok) == 0 || tok[0] != '"' || err != nil || end != len(tok) {
		return dst, false
	}
	body := tok[1 : len(tok)-1]
	if !escaped {
		return append(dst, body...), true
	}
	return appendUnescaped(dst, body), true
}

// appendUnescaped decodes the body of a string token that scanString
// accepted. A lone or unpaired surrogate escape becomes U+FFFD, as in
// encoding/json.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+1 : i+5])
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if len(s)-i >= 7 && s[i+1] == '\\' && s[i+2] == 'u' {
					if d := utf16.DecodeRune(r, hex4(s[i+3:i+7])); d != utf8.RuneError {
						r2 = d
						i += 6
					}
				}
				r = r2
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
	}
	return dst
}

// hex4 returns the value of four hex digits that isHex4 accepted.
func hex4(b []byte) rune {
	var n rune
	for _, c := range b[:4] {
		n <<= 4
		switch {
		case c >= '0' && c <= '9':
			n |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			n |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			n |= rune(c-'A') + 10
		}
	}
	return n
}

const hexDigits = "0123456789abcdef"

// QuotedLen returns len(AppendQuote(nil, s)), without building it, so that
// an encoder can size its buffer once.
func QuotedLen(s string) int {
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

// AppendQuote appends s to dst as a JSON string. It escapes '"', '\\' and
// the control characters (\n, \r and \t by name, the others as \u00XX) and
// nothing else: unlike encoding/json it leaves <, >, & and U+2028/U+2029 as
// they are. Each byte of invalid UTF-8 becomes \ufffd, as encoding/json does,
// so the output is always valid UTF-8. It allocates only to grow dst.
func AppendQuote(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
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
