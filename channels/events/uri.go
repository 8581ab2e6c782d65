package events

import (
	"net/netip"
	"strings"
)

// RFC 3986 syntax checks. net/url is deliberately not used: it accepts
// characters RFC 3986 excludes (spaces, quotes, braces...) and refuses
// percent-encoded characters in a host, which RFC 3986 allows.

// isURIReference reports whether s is a URI-reference (RFC 3986 section 4.1).
func isURIReference(s string) bool {
	_, ok := parseURI(s)
	return ok
}

// isAbsoluteURI reports whether s is an absolute-URI (RFC 3986 section 4.3):
// a scheme and no fragment.
func isAbsoluteURI(s string) bool {
	u, ok := parseURI(s)
	return ok && u.scheme && !u.fragment
}

type uriParts struct{ scheme, fragment bool }

func parseURI(s string) (uriParts, bool) {
	var u uriParts
	if i := strings.IndexAny(s, ":/?#"); i >= 0 && s[i] == ':' {
		// A colon before any '/', '?' or '#' ends a scheme; a relative
		// reference cannot have one in its first segment (path-noscheme).
		if !isScheme(s[:i]) {
			return u, false
		}
		u.scheme = true
		s = s[i+1:]
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		u.fragment = true
		if !isQueryOrFragment(s[i+1:]) {
			return u, false
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		if !isQueryOrFragment(s[i+1:]) {
			return u, false
		}
		s = s[:i]
	}
	if rest, ok := strings.CutPrefix(s, "//"); ok {
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		if !isAuthority(rest[:end]) {
			return u, false
		}
		s = rest[end:]
	}
	return u, isPath(s)
}

// isScheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isAuthority: [ userinfo "@" ] host [ ":" port ].
func isAuthority(s string) bool {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		if !isChars(s[:i], ":") {
			return false
		}
		s = s[i+1:]
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !isIPLiteral(s[1:end]) {
			return false
		}
		host, port = "", s[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i:]
	}
	for i := 1; i < len(port); i++ {
		if !isDigit(port[i]) {
			return false
		}
	}
	return isChars(host, "") // reg-name or IPv4address
}

// isIPLiteral: IPv6address / IPvFuture, between the brackets.
func isIPLiteral(s string) bool {
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		dot := strings.IndexByte(s, '.')
		if dot < 2 || dot == len(s)-1 {
			return false
		}
		for i := 1; i < dot; i++ {
			if !isHex(s[i]) {
				return false
			}
		}
		return isChars(s[dot+1:], ":") && !strings.Contains(s[dot+1:], "%")
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && a.Zone() == ""
}

// isPath: segments of pchar separated by '/'.
func isPath(s string) bool { return isChars(s, ":@/") }

// isQueryOrFragment: *( pchar / "/" / "?" ).
func isQueryOrFragment(s string) bool { return isChars(s, ":@/?") }

// isChars reports whether s is made of unreserved characters, sub-delims,
// percent-encodings and the extra characters given.
func isChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlpha(c) || isDigit(c) || strings.IndexByte("-._~!$&'()*+,;=", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		case strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
