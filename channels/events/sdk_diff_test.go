package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	ce "github.com/cloudevents/sdk-go/v2/event"
)

// The differential test feeds the same bytes to Validate and to
// github.com/cloudevents/sdk-go/v2 (json.Unmarshal into event.Event, then
// Validate). Every disagreement must be one of the deliberate, spec-backed
// differences below; any other fails the test.
//
// Spec sections refer to CloudEvents 1.0.2: "core" is spec.md, "JSON" is
// formats/json-format.md.

// stricter lists what Validate rejects and sdk-go accepts, by the rule
// (problem code) that rejected it.
var stricter = []struct {
	code  problemCode
	attrs []string // the attributes it applies to; nil means any
	why   string
}{
	{codeSpecVersion, nil, `core 3.1.1 specversion: this is a CloudEvents 1.0 channel and the contract says exactly "1.0"; sdk-go also takes "0.3" events`},
	{codeEmpty, []string{"subject", "datacontenttype", "dataschema", "time"}, `core 3.1.2: subject "MUST be a non-empty string"; an empty media type, URI or timestamp is not one (RFC 2046, RFC 3986, RFC 3339); sdk-go reads "" as unset`},
	{codeSourceURI, nil, "core 3.1.1 source is a URI-reference, JSON 2.2 follows RFC 3986: net/url accepts characters RFC 3986 excludes (space, \", <, >, \\, ^, `, {, |, }, non-ASCII) and zones in IPv6 literals"},
	{codeSchemaURI, nil, "core 3.1.2 dataschema is a URI, core 2.? type system: an absolute URI (RFC 3986 section 4.3: scheme, no fragment); sdk-go only checks url.URL.IsAbs after net/url's lenient parse"},
	{codeMediaType, nil, `core 3.1.2 datacontenttype MUST adhere to RFC 2046: type "/" subtype; mime.ParseMediaType, which sdk-go uses, also accepts a bare token ("json")`},
	{codeBase64, nil, "JSON 2.2 Binary is Base64 (RFC 4648 section 4); RFC 4648 3.3 forbids line breaks and 3.5 allows rejecting non-zero pad bits: encoding/base64 ignores \\r and \\n and accepts those bits"},
	{codeDataAndBase64, nil, "JSON 3.1.1: data and data_base64 are mutually exclusive; sdk-go keeps the last one"},
	{codeExtensionName, nil, "core 3.1 attribute naming: lower-case a-z and 0-9 (the contract makes the SHOULD of 20 characters a MUST); sdk-go also takes upper case and any length, and stops reading an object at an empty member name"},
	{codeExtensionNotInteger, nil, "JSON 2.2: an Integer is a number with only an integer component; sdk-go truncates 1.5 and 1e3 to int32"},
	{codeDuplicate, nil, "RFC 8259 section 4: member names SHOULD be unique, and receivers of the forwarded bytes would not agree on which value counts; sdk-go keeps the last value"},
	{codeTooLarge, nil, "the contract's size limit (default 256 KiB); sdk-go has none"},
}

// lenient lists what sdk-go rejects and Validate accepts. Each fix rewrites
// the event's members to neutralize the difference; a disagreement is
// explained when sdk-go accepts the event after the fixes.
var lenient = []struct {
	name, why string
	fix       func(m *member) (changed bool)
}{
	{"member names and string values in canonical JSON", "RFC 8259 sections 7 and 8.3: an escaped name (\"spec\\u0076ersion\") is the same name, an escaped \"\\/\" in data_base64 the same string; sdk-go decodes data_base64 without unescaping it",
		func(m *member) bool { return canonicalize(m) }},
	{"null attributes", "JSON 2.2: a null attribute MUST be treated as unset; sdk-go fails on some (data_base64, datacontenttype after specversion)",
		func(m *member) bool {
			if m.kind == kindNull && m.name != "data" {
				m.name = "" // dropped by rebuild
				return true
			}
			return false
		}},
	{"white-space strings", `core 3.1.1: id, type and subject are non-empty strings; " " is one. sdk-go trims white space first`,
		func(m *member) bool {
			switch m.name {
			case "id", "type", "subject":
				if m.kind == kindString && strings.TrimSpace(unquote(m.raw)) == "" {
					m.raw = []byte(`"x"`)
					return true
				}
			}
			return false
		}},
	{"URI-references net/url refuses or re-encodes as empty", `RFC 3986 allows percent-encoded characters in a host (3.2.2) and ports of any length (3.2.3), and "//" or "#" are non-empty URI-references (4.1, as core 3.1.1 asks of source); net/url refuses the former, and sdk-go checks the re-encoded URL.String(), which is "" for the latter`,
		func(m *member) bool {
			if (m.name == "source" || m.name == "dataschema") && m.kind == kindString {
				if u, err := url.Parse(unquote(m.raw)); err != nil || strings.TrimSpace(u.String()) == "" {
					m.raw = []byte(`"https://example.com/x"`)
					return true
				}
			}
			return false
		}},
	{"data that is not a string with a non-JSON datacontenttype", "JSON 3.1.2: an implementation MAY fail to deserialize such data; we forward data as received. sdk-go also misses */*+json types (JSON 3.1.1)",
		func(m *member) bool {
			if m.name == "data" && m.kind != kindString {
				m.raw = []byte(`"x"`)
				return true
			}
			return false
		}},
}

// sdkAccepts reports whether sdk-go accepts data as a valid CloudEvent. A
// panic in sdk-go counts as a refusal.
func sdkAccepts(data []byte) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("sdk-go panicked: %v", r)
		}
	}()
	var e ce.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return false, err
	}
	if err := e.Validate(); err != nil {
		return false, err
	}
	return true, nil
}

// explainDifference returns "" when Validate and sdk-go agree on data, or
// when they disagree by a listed difference; else what is unexplained.
func explainDifference(data []byte) string {
	_, ourErr := Validate(data, 0)
	sdkOK, sdkErr := sdkAccepts(data)
	if (ourErr == nil) == sdkOK {
		return ""
	}
	if ourErr != nil {
		var inv *InvalidEventError
		if !errors.As(ourErr, &inv) {
			return "Validate returned " + ourErr.Error()
		}
		for _, p := range inv.Problems {
			if !isStricter(p, data) {
				return fmt.Sprintf("we reject (%s %s), sdk-go accepts", p.Attribute, p.Message)
			}
		}
		return ""
	}
	var buf [16]member
	members, _ := scanObject(data, buf[:0])
	for _, l := range lenient {
		for i := range members {
			l.fix(&members[i])
		}
		if ok, _ := sdkAccepts(rebuild(members)); ok {
			return ""
		}
	}
	return fmt.Sprintf("we accept, sdk-go rejects (%v) even after every listed fix: %s", sdkErr, rebuild(members))
}

func isStricter(p Problem, data []byte) bool {
	if p.code == codeNotJSON && !utf8.Valid(data) {
		return true // RFC 8259 8.1: JSON text is UTF-8; encoding/json replaces bad bytes
	}
	for _, s := range stricter {
		if s.code != p.code {
			continue
		}
		if s.attrs == nil {
			return true
		}
		for _, a := range s.attrs {
			if a == p.Attribute {
				return true
			}
		}
	}
	return false
}

// canonicalize rewrites an escaped member name or string value without
// escapes that JSON does not need.
func canonicalize(m *member) bool {
	changed := false
	if m.kind == kindString && bytes.IndexByte(m.raw, '\\') >= 0 {
		if c := canonicalString(unquote(m.raw)); !bytes.Equal(c, m.raw) {
			m.raw, changed = c, true
		}
	}
	return changed
}

func canonicalString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// rebuild encodes members as an object, dropping those with an empty name
// (so a fix can remove a member), with canonical names.
func rebuild(members []member) []byte {
	b := []byte{'{'}
	for _, m := range members {
		if m.name == "" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, canonicalString(m.name)...)
		b = append(b, ':')
		b = append(b, m.raw...)
	}
	return append(b, '}')
}

// differentialCorpus is hand-written: each case probes one rule on which
// the two validators could differ.
var differentialCorpus = []string{
	`{` + base + `}`,
	`{` + base + `,"data":{"a":1}}`,
	`{` + base + `,"datacontenttype":"text/plain","data":"x"}`,
	`{` + base + `,"datacontenttype":"text/plain","data":{"a":1}}`,
	`{` + base + `,"datacontenttype":"application/vnd.api+json","data":{"a":1}}`,
	`{` + base + `,"datacontenttype":"json"}`,
	`{` + base + `,"datacontenttype":""}`,
	`{"datacontenttype":null,` + base + `}`,
	`{` + base + `,"datacontenttype":null}`,
	`{` + base + `,"data_base64":null}`,
	`{"data_base64":null,` + base + `}`,
	`{` + base + `,"data_base64":"aGk="}`,
	`{"data_base64":"aGk=",` + base + `}`,
	`{` + base + `,"data_base64":"a\/8="}`,
	`{"data_base64":"a\/8=",` + base + `}`,
	`{` + base + `,"data_base64":"aGk"}`,
	`{` + base + `,"data_base64":"aGl="}`,
	`{` + base + `,"data_base64":"aG\nk="}`,
	`{` + base + `,"data_base64":1}`,
	`{"data_base64":1,` + base + `}`,
	`{` + base + `,"data":1,"data_base64":"aGk="}`,
	`{"specversion":"0.3","id":"1","source":"/s","type":"t"}`,
	`{"specversion":"1.0","id":" ","source":"/s","type":"t"}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":" "}`,
	`{` + base + `,"subject":" "}`,
	`{` + base + `,"subject":""}`,
	`{` + base + `,"subject":null}`,
	`{` + base + `,"time":""}`,
	`{` + base + `,"time":"2026-11-25T20:32:07Z"}`,
	`{` + base + `,"time":"2026-11-25T20:32:60Z"}`,
	`{` + base + `,"time":"2026-02-30T20:32:07Z"}`,
	`{` + base + `,"time":"2026-11-25t20:32:07z"}`,
	`{` + base + `,"dataschema":"https://e.com/s"}`,
	`{` + base + `,"dataschema":"https://e.com/s#f"}`,
	`{` + base + `,"dataschema":"/rel"}`,
	`{` + base + `,"dataschema":""}`,
	`{"specversion":"1.0","id":"1","source":"http://ex%41mple.com/","type":"t"}`,
	`{"specversion":"1.0","id":"1","source":"/a b","type":"t"}`,
	`{"specversion":"1.0","id":"1","source":"/a{b}","type":"t"}`,
	`{"specversion":"1.0","id":"1","source":"http://[fe80::1%25en0]/","type":"t"}`,
	`{"specversion":"1.0","id":"1","source":"http://h:99999999999/","type":"t"}`,
	`{"specversion":"1.0","id":"1","source":"/é","type":"t"}`,
	`{"specversion":"1.0","id":"1","source":":x","type":"t"}`,
	`{"spec\u0076ersion":"1.0","id":"1","source":"/s","type":"t"}`,
	`{` + base + `,"Ext":"x"}`,
	`{` + base + `,"abcdefghij0123456789x":"x"}`,
	`{` + base + `,"":"x"}`,
	`{` + base + `,"ext":1.5}`,
	`{` + base + `,"ext":1e3}`,
	`{` + base + `,"ext":2147483648}`,
	`{` + base + `,"ext":-2147483648}`,
	`{` + base + `,"ext":{}}`,
	`{` + base + `,"ext":null}`,
	`{` + base + `,"ext":true}`,
	`{` + base + `,"id":"2"}`,
	`{` + base + `,"specversion":"1.0"}`,
	"{" + base + ",\"subject\":\"\xff\"}",
	`{"specversion":"1.0"}`,
	`{}`,
	`[]`,
	`null`,
	`{"specversion":1}`,
	`{"specversion":"1.0","id":1,"source":"/s","type":"t"}`,
	`{"specversion":"1.0","id":"1","source":{},"type":"t"}`,
	`{"specversion":"1.0","id":"1","source":"/s","type":"t","subject":1}`,
}

func TestDifferentialCorpus(t *testing.T) {
	disagreements := 0
	for _, ev := range differentialCorpus {
		_, err := Validate([]byte(ev), 0)
		if ok, _ := sdkAccepts([]byte(ev)); ok != (err == nil) {
			disagreements++
		}
		if msg := explainDifference([]byte(ev)); msg != "" {
			t.Errorf("%s\n  %s", ev, msg)
		}
	}
	// The corpus is there to probe the differences: if none shows, either
	// sdk-go changed or the check compares nothing.
	if disagreements < 20 {
		t.Errorf("only %d of %d corpus cases disagree", disagreements, len(differentialCorpus))
	}
	// A rule both must agree on is never excused.
	for _, p := range []Problem{{Attribute: "source", code: codeRequired}, {Attribute: "id", code: codeEmpty}, {Attribute: "ext", code: codeExtensionValue}, {Attribute: "time", code: codeTime}} {
		if isStricter(p, []byte(`{}`)) {
			t.Errorf("%+v is excused as a deliberate difference", p)
		}
	}
}

// FuzzValidateAgainstSDK runs the differential check, and checks the
// scanner against encoding/json: Validate says "not valid JSON" exactly
// when the text is not.
func FuzzValidateAgainstSDK(f *testing.F) {
	for _, ev := range differentialCorpus {
		f.Add([]byte(ev))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Validate(data, 0)
		var inv *InvalidEventError
		notJSON := errors.As(err, &inv) && len(inv.Problems) == 1 && inv.Problems[0].code == codeNotJSON
		if valid := json.Valid(data) && utf8.Valid(data); notJSON == valid && len(data) <= DefaultMaxEventBytes {
			t.Fatalf("scanner says not-JSON=%v, encoding/json says valid=%v for %q", notJSON, valid, data)
		}
		if msg := explainDifference(data); msg != "" {
			t.Fatalf("%q\n  %s", data, msg)
		}
	})
}

// TestFuzzCorpusKept makes sure crashers found by fuzzing stay in
// testdata/fuzz and are replayed by go test.
func TestFuzzCorpusKept(t *testing.T) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzValidateAgainstSDK"))
	t.Logf("%d kept fuzz inputs", len(entries))
}
