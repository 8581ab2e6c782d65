package server

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
)

// maxHeadFields bounds the header fields of a request the fast upgrade path
// takes; a request with more goes to net/http.
const maxHeadFields = 64

// upgradeHead is an HTTP/1.1 request head parsed by the fast upgrade path
// (UpgradeListener). Its slices point into the buffer it was parsed from.
//
// parse accepts only a well-formed WebSocket upgrade of one path, with at
// most one of each header the handshake reads; anything else (another
// method or path, a header net/http would refuse or fold, a body, a second
// Host) is left to net/http, which answers it as it answers every other
// request. So the fast path never gives an answer net/http would not.
type upgradeHead struct {
	head           []byte // what parse read; header re-reads its fields
	path, rawQuery []byte
	host, origin   []byte
	key            []byte
	protocols      [][]byte // each Sec-WebSocket-Protocol field value, in order
}

// parse reads head (the request line and header fields, without the
// blank line that ends them) and reports whether it is a WebSocket upgrade
// of path that the fast path may answer.
func (h *upgradeHead) parse(head []byte, path string) bool {
	*h = upgradeHead{head: head, protocols: h.protocols[:0]}
	line, rest, _ := bytes.Cut(head, crlf)
	if !h.parseRequestLine(line, path) {
		return false
	}
	var connection, upgrade, version int
	hosts, fields := 0, 0
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, crlf)
		name, value, ok := splitField(line)
		if !ok || fields == maxHeadFields {
			return false
		}
		fields++
		switch {
		case asciiEqualFold(name, "Host"):
			hosts++
			h.host = value
		case asciiEqualFold(name, "Connection"):
			connection++
			if !hasToken(value, "upgrade") {
				return false
			}
		case asciiEqualFold(name, "Upgrade"):
			upgrade++
			if !asciiEqualFold(value, "websocket") {
				return false
			}
		case asciiEqualFold(name, "Sec-WebSocket-Version"):
			version++
			if string(value) != "13" {
				return false
			}
		case asciiEqualFold(name, "Sec-WebSocket-Key"):
			if h.key != nil || len(value) != 24 {
				return false
			}
			h.key = value
		case asciiEqualFold(name, "Sec-WebSocket-Protocol"):
			if !tokenList(value) {
				return false
			}
			h.protocols = append(h.protocols, value)
		case asciiEqualFold(name, "Origin"):
			if h.origin == nil {
				h.origin = value
			}
		case asciiEqualFold(name, "Content-Length"), asciiEqualFold(name, "Transfer-Encoding"):
			return false
		}
	}
	return hosts == 1 && len(h.host) > 0 && validHost(h.host) &&
		connection == 1 && upgrade == 1 && version == 1 && h.key != nil
}

// parseRequestLine takes "GET <path>[?query] HTTP/1.1".
func (h *upgradeHead) parseRequestLine(line []byte, path string) bool {
	target, ok := bytes.CutPrefix(line, []byte("GET "))
	if !ok {
		return false
	}
	target, ok = bytes.CutSuffix(target, []byte(" HTTP/1.1"))
	if !ok {
		return false
	}
	for _, b := range target {
		if b <= ' ' || b >= 0x7f || b == '#' {
			return false
		}
	}
	p, q, _ := bytes.Cut(target, []byte("?"))
	if string(p) != path {
		return false
	}
	h.path, h.rawQuery = p, q
	return true
}

var crlf = []byte("\r\n")

// splitField splits "Name: value" and trims the value's spaces and tabs. A
// name that is not a token, a folded line (leading white space) or a value
// with control characters is refused, as net/http refuses them.
func splitField(line []byte) (name, value []byte, ok bool) {
	name, value, ok = bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return nil, nil, false
	}
	for _, b := range name {
		if !isTokenByte(b) {
			return nil, nil, false
		}
	}
	value = bytes.Trim(value, " \t")
	for _, b := range value {
		if b < ' ' && b != '\t' || b == 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

// isTokenByte reports whether b is an RFC 9110 tchar.
func isTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return b < 0x7f && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), b) >= 0
}

// tokenList reports whether v is a comma-separated list of tokens.
func tokenList(v []byte) bool {
	for item := range bytes.SplitSeq(v, []byte(",")) {
		item = bytes.Trim(item, " \t")
		if len(item) == 0 {
			return false
		}
		for _, b := range item {
			if !isTokenByte(b) {
				return false
			}
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token, in any
// case.
func hasToken(v []byte, token string) bool {
	for item := range bytes.SplitSeq(v, []byte(",")) {
		if asciiEqualFold(bytes.Trim(item, " \t"), token) {
			return true
		}
	}
	return false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// validHost reports whether a Host value has only the characters net/http
// allows in one.
func validHost(h []byte) bool {
	for _, b := range h {
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case bytes.IndexByte([]byte("!$%&'()*+,-.:;=[]_~"), b) >= 0:
		default:
			return false
		}
	}
	return true
}

// header returns the fields as an http.Header, for the connect hook.
func (h *upgradeHead) header() http.Header {
	hdr := make(http.Header)
	_, rest, _ := bytes.Cut(h.head, crlf)
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, crlf)
		name, value, _ := splitField(line) // parse took every line
		k := textproto.CanonicalMIMEHeaderKey(string(name))
		hdr[k] = append(hdr[k], string(value))
	}
	return hdr
}

// uri returns the request URI, for the connect hook.
func (h *upgradeHead) uri() *url.URL {
	target := string(h.path)
	if len(h.rawQuery) > 0 {
		target += "?" + string(h.rawQuery)
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return &url.URL{Path: string(h.path), RawQuery: string(h.rawQuery)}
	}
	return u
}
