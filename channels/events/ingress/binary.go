package ingress

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fawkes-rt/fawkes/channels/events"
)

// The context attributes of CloudEvents 1.0 in the order the JSON of a
// binary-mode event lists them (also the order events.Validate reports
// problems in); extensions follow, sorted by name, then data.
var attributeOrder = []string{"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"}

// headerPrefix is the canonical form of the ce- prefix (http.Header keys
// are canonical, so "ce-id" arrives as "Ce-Id").
const headerPrefix = "Ce-"

// binaryEvent builds the JSON format of the binary-mode event of header and
// body. sdk-go's binding.ToEvent is not used here: it walks the header map
// in random order, does not percent-decode values (HTTP binding section
// 3.1.3.2), stops at the first bad attribute, and re-encodes through
// event.Event. The JSON is built deterministically, so that the same
// request always gives the same bytes on the wire:
//
//   - members in the order specversion, id, source, type, datacontenttype,
//     dataschema, subject, time, then extensions sorted by name, then data
//     or data_base64;
//   - attribute names are the header names after "ce-", in lower case;
//     values are the percent-decoded header values, as JSON strings (the
//     binding carries every attribute as a string: an integer or boolean
//     extension arrives as its string form and stays a string);
//   - datacontenttype is the Content-Type header, verbatim;
//   - data: an empty body means no data; a JSON media type
//     (application/json, text/json, */*+json) puts the body as a JSON value
//     (it must be valid JSON), surrounding whitespace trimmed; a text/*
//     media type whose charset is absent, utf-8 or us-ascii and a body of
//     valid UTF-8 puts it as a JSON string; anything else goes to
//     data_base64 (standard Base64 with padding);
//   - strings are escaped minimally: \" \\ and control characters (\n, \r,
//     \t, else \u00XX); other characters, non-ASCII included, are written
//     as they are.
//
// Problems of the HTTP representation itself (a bad percent-encoding, a
// header given twice) are returned as an *events.InvalidEventError in the
// same attribute order; the built event is then nil. Everything else is
// left to events.Validate, so that the errors list is the channel's.
func binaryEvent(header http.Header, body []byte) ([]byte, *events.InvalidEventError) {
	attrs := map[string]string{}
	var extensions []string
	var problems []events.Problem
	for key, values := range header {
		if !strings.HasPrefix(key, headerPrefix) {
			continue
		}
		name := strings.ToLower(key[len(headerPrefix):])
		switch {
		case name == "datacontenttype":
			problems = append(problems, events.Problem{Attribute: name, Message: "must be sent as the Content-Type header in binary mode"})
			continue
		case len(values) > 1:
			problems = append(problems, events.Problem{Attribute: name, Message: "appears more than once"})
			continue
		}
		v, msg := percentDecode(values[0])
		if msg != "" {
			problems = append(problems, events.Problem{Attribute: name, Message: msg})
			continue
		}
		attrs[name] = v
		if !slices.Contains(attributeOrder, name) {
			extensions = append(extensions, name)
		}
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, &events.InvalidEventError{Problems: problems}
	}
	contentType := header.Get("Content-Type")
	if contentType != "" {
		attrs["datacontenttype"] = contentType
	}
	slices.Sort(extensions)

	b := make([]byte, 0, 256+len(body)*4/3)
	b = append(b, '{')
	first := true
	member := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, name)
		b = append(b, ':')
	}
	for _, name := range append(attributeOrder[:len(attributeOrder):len(attributeOrder)], extensions...) {
		if v, ok := attrs[name]; ok {
			member(name)
			b = appendString(b, v)
		}
	}
	if len(body) > 0 {
		switch dataKind(contentType) {
		case dataJSON:
			trimmed := trimSpace(body)
			if !json.Valid(trimmed) {
				return nil, &events.InvalidEventError{Problems: []events.Problem{{Attribute: "data", Message: "is not valid JSON, as its Content-Type says"}}}
			}
			member("data")
			b = append(b, trimmed...)
		case dataText:
			if utf8.Valid(body) {
				member("data")
				b = appendString(b, string(body))
				break
			}
			fallthrough
		default:
			member("data_base64")
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, body)
			b = append(b, '"')
		}
	}
	return append(b, '}'), nil
}

// sortProblems orders problems as events.Validate does: the context
// attributes in their order, then the others by name.
func sortProblems(ps []events.Problem) {
	rank := func(name string) int {
		if i := slices.Index(attributeOrder, name); i >= 0 {
			return i
		}
		return len(attributeOrder)
	}
	slices.SortStableFunc(ps, func(a, b events.Problem) int {
		if ra, rb := rank(a.Attribute), rank(b.Attribute); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Attribute, b.Attribute)
	})
}

// percentDecode decodes %XX sequences (HTTP binding section 3.1.3.2; "+"
// is not a space). It returns a problem message for a malformed escape or
// a result that is not UTF-8.
func percentDecode(s string) (string, string) {
	if !strings.Contains(s, "%") {
		if !utf8.ValidString(s) {
			return "", "is not UTF-8"
		}
		return s, ""
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out = append(out, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", "has a malformed percent-encoding"
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", "has a malformed percent-encoding"
		}
		out = append(out, byte(n))
		i += 2
	}
	if !utf8.Valid(out) {
		return "", "is not UTF-8 after percent-decoding"
	}
	return string(out), ""
}

type dataKindT uint8

const (
	dataBinary dataKindT = iota
	dataJSON
	dataText
)

// dataKind classifies a Content-Type for the data member.
func dataKind(contentType string) dataKindT {
	if contentType == "" {
		return dataBinary
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return dataBinary
	}
	switch {
	case mt == "application/json", mt == "text/json", strings.HasSuffix(mt, "+json"):
		return dataJSON
	case strings.HasPrefix(mt, "text/"):
		switch cs := strings.ToLower(params["charset"]); cs {
		case "", "utf-8", "utf8", "us-ascii":
			return dataText
		}
	}
	return dataBinary
}

func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// appendString appends s as a JSON string, escaping only what JSON
// requires.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
