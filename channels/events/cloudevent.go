package events

import (
	"encoding/base64"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxEventBytes is the default size limit of one encoded CloudEvent.
const DefaultMaxEventBytes = 256 << 10

// ReasonInvalidCloudEvent is the reason of the error answering an invalid
// cloudevent.
const ReasonInvalidCloudEvent = "invalid_cloudevent"

// Event is a valid CloudEvent: the attributes the channel needs, and the
// event's bytes exactly as received.
type Event struct {
	// ID and Type are the event's id and type attributes.
	ID, Type string
	// Raw is the encoded event as received (it aliases Validate's input).
	Raw []byte
	// idToken is the id's JSON string token, for the {"id":..} reply.
	idToken []byte
}

// Problem is one reason why an event is not a valid CloudEvent.
type Problem struct {
	// Attribute names the attribute at fault; "" means the event as a whole
	// (not JSON, not an object, too large).
	Attribute string `json:"attribute"`
	// Message says what is wrong, as a phrase that follows the attribute
	// name ("is required").
	Message string `json:"message"`

	code problemCode // for tests: the rule that failed
}

// InvalidEventError is returned by Validate for an invalid CloudEvent. It
// lists every problem found, in attribute order: specversion, id, source,
// type, datacontenttype, dataschema, subject, time, data_base64, data, then
// the extensions in the order they first appear.
type InvalidEventError struct {
	Problems []Problem
}

// Error returns the first problem, and how many more there are.
func (e *InvalidEventError) Error() string { return "invalid CloudEvent: " + e.summary() }

// Sentence returns the error as one human sentence, for clients.
func (e *InvalidEventError) Sentence() string {
	return "The event is not a valid CloudEvent: " + e.summary() + "."
}

func (e *InvalidEventError) summary() string {
	if len(e.Problems) == 0 {
		return "no problem listed"
	}
	p := e.Problems[0]
	s := p.Message
	if p.Attribute != "" {
		s = p.Attribute + " " + s
	}
	switch n := len(e.Problems) - 1; {
	case n == 1:
		s += " (and 1 more problem)"
	case n > 1:
		s += fmt.Sprintf(" (and %d more problems)", n)
	}
	return s
}

// problemCode identifies a validation rule.
type problemCode uint8

const (
	codeTooLarge problemCode = iota + 1
	codeNotJSON
	codeNotObject
	codeDuplicate
	codeRequired
	codeNotString
	codeEmpty
	codeSpecVersion
	codeSourceURI
	codeSchemaURI
	codeTime
	codeMediaType
	codeBase64
	codeDataAndBase64
	codeExtensionName
	codeExtensionValue
	codeExtensionNotInteger
	codeExtensionRange
)

// The context attributes CloudEvents 1.0 defines, in the order problems are
// listed; then data and data_base64.
const (
	attrSpecVersion = iota
	attrID
	attrSource
	attrType
	attrDataContentType
	attrDataSchema
	attrSubject
	attrTime
	attrDataBase64
	attrData
	numAttrs
)

var attrNames = [numAttrs]string{"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time", "data_base64", "data"}

func attrIndex(name string) int {
	for i, n := range attrNames {
		if n == name {
			return i
		}
	}
	return -1
}

// Validate checks that event is one CloudEvent in the CloudEvents 1.0 JSON
// format (docs/events-channel.md) of at most maxBytes bytes (zero or less
// means DefaultMaxEventBytes). It reads the top-level members only: data is
// checked to be JSON, never decoded. It returns an *InvalidEventError
// listing every problem when the event is invalid. It is safe for
// concurrent use.
func Validate(event []byte, maxBytes int) (Event, error) {
	v := validators.Get().(*validator)
	ev, err := v.validate(event, maxBytes)
	clear(v.extensions)
	*v = validator{extensions: v.extensions[:0]} // no reference to event or to the error's problems stays
	validators.Put(v)
	return ev, err
}

// validators keeps validators between events: a validator holds its
// members (buf), which a local array would not keep off the heap (the
// validator keeps pointers to them), and a fan-out's every published event
// allocated ~1 KiB for them.
var validators = sync.Pool{New: func() any { return new(validator) }}

// validate is Validate with v, a zero validator.
func (v *validator) validate(event []byte, maxBytes int) (Event, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxEventBytes
	}
	if len(event) > maxBytes {
		return Event{}, invalid(Problem{Message: fmt.Sprintf("is %d bytes, more than the limit of %d", len(event), maxBytes), code: codeTooLarge})
	}
	members, serr := scanObject(event, v.buf[:0])
	switch serr {
	case scanNotJSON:
		return Event{}, invalid(Problem{Message: "is not valid JSON", code: codeNotJSON})
	case scanNotObject:
		return Event{}, invalid(Problem{Message: "must be a JSON object", code: codeNotObject})
	}
	for i := range members {
		v.add(&members[i])
	}
	return v.check(event)
}

func invalid(p ...Problem) *InvalidEventError { return &InvalidEventError{Problems: p} }

// validator collects an event's members by attribute. A member given more
// than once is marked on its first occurrence (member.dup): RFC 8259
// section 4 leaves the meaning of such an object to each parser, and
// receivers of the forwarded bytes could disagree on which value counts.
type validator struct {
	buf        [16]member // the members of most events
	attrs      [numAttrs]*member
	extensions []*member          // first occurrences, in order
	byName     map[string]*member // extensions by name, once there are more than scanExtensions
	problems   []Problem

	// probes counts the names compared or looked up to find duplicates:
	// the work of add beyond its constant part, which the linearity test
	// (TestValidateWorkIsLinear) bounds by the number of members.
	probes int
}

// scanExtensions is how many extensions add compares one by one before it
// indexes them by name: few events have more, and below it the scan costs
// less than a map and allocates nothing. Past it a name costs one lookup,
// so that n extensions cost O(n), not O(n²) (issue 16: 20,000 extensions
// took 529 ms of CPU with a scan per name).
const scanExtensions = 8

func (v *validator) add(m *member) {
	if i := attrIndex(m.name); i >= 0 {
		if first := v.attrs[i]; first != nil {
			first.dup = true
			return
		}
		v.attrs[i] = m
		return
	}
	if first := v.extension(m.name); first != nil {
		first.dup = true
		return
	}
	v.extensions = append(v.extensions, m)
	if v.byName != nil {
		v.byName[m.name] = m
	}
}

// extension returns the extension member named name that add has kept, or
// nil.
func (v *validator) extension(name string) *member {
	if v.byName == nil {
		if len(v.extensions) <= scanExtensions {
			for _, e := range v.extensions {
				v.probes++
				if e.name == name {
					return e
				}
			}
			return nil
		}
		v.byName = make(map[string]*member, 2*len(v.extensions))
		for _, e := range v.extensions {
			v.byName[e.name] = e
		}
	}
	v.probes++
	return v.byName[name]
}

// reportDuplicate reports m, the member of attribute name, when it was
// given more than once, and whether it was.
func (v *validator) reportDuplicate(m *member, name string) bool {
	if m == nil || !m.dup {
		return false
	}
	v.problem(name, "appears more than once", codeDuplicate)
	return true
}

func (v *validator) problem(attr, msg string, code problemCode) {
	if len(v.problems) == cap(v.problems) {
		v.problems = slices.Grow(v.problems, len(v.problems)) // doubling: see scanObject
	}
	v.problems = append(v.problems, Problem{Attribute: attr, Message: msg, code: code})
}

// present returns the member of attribute i, or nil when it is absent or
// null: JSON format section 2.2 says a null attribute is unset.
func (v *validator) present(i int) *member {
	if m := v.attrs[i]; m != nil && m.kind != kindNull {
		return m
	}
	return nil
}

// str returns the string value of attribute i, reporting a non-string, an
// empty string and (when required) an absent attribute.
func (v *validator) str(i int, required bool) (string, bool) {
	m := v.present(i)
	name := attrNames[i]
	if v.reportDuplicate(v.attrs[i], name) {
		return "", false
	}
	switch {
	case m == nil:
		if required {
			v.problem(name, "is required", codeRequired)
		}
		return "", false
	case m.kind != kindString:
		v.problem(name, "must be a string", codeNotString)
		return "", false
	case len(m.raw) == 2:
		v.problem(name, "must not be empty", codeEmpty)
		return "", false
	}
	return unquote(m.raw), true
}

func (v *validator) check(raw []byte) (Event, error) {
	ev := Event{Raw: raw}
	if sv, ok := v.str(attrSpecVersion, true); ok && sv != "1.0" {
		v.problem("specversion", `must be "1.0"`, codeSpecVersion)
	}
	if id, ok := v.str(attrID, true); ok {
		ev.ID, ev.idToken = id, v.attrs[attrID].raw
	}
	if src, ok := v.str(attrSource, true); ok && !isURIReference(src) {
		v.problem("source", "must be a URI-reference (RFC 3986)", codeSourceURI)
	}
	ev.Type, _ = v.str(attrType, true)
	if ct, ok := v.str(attrDataContentType, false); ok {
		if !isMediaType(ct) {
			v.problem("datacontenttype", "must be a media type (RFC 2046)", codeMediaType)
		}
	}
	if ds, ok := v.str(attrDataSchema, false); ok && !isAbsoluteURI(ds) {
		v.problem("dataschema", "must be an absolute URI (RFC 3986)", codeSchemaURI)
	}
	v.str(attrSubject, false)
	if t, ok := v.str(attrTime, false); ok {
		if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
			v.problem("time", "must be an RFC 3339 timestamp", codeTime)
		}
	}
	v.checkDataBase64()
	v.reportDuplicate(v.attrs[attrData], "data")
	for _, m := range v.extensions {
		v.checkExtension(m)
	}
	if len(v.problems) > 0 {
		return Event{}, &InvalidEventError{Problems: v.problems}
	}
	return ev, nil
}

// checkDataBase64: a string of padded standard Base64 (RFC 4648 section 4,
// without line breaks: section 3.3), never together with data (JSON format
// section 3.1.1).
func (v *validator) checkDataBase64() {
	m := v.present(attrDataBase64)
	if v.reportDuplicate(v.attrs[attrDataBase64], "data_base64") || m == nil {
		return
	}
	if m.kind != kindString {
		v.problem("data_base64", "must be a string", codeNotString)
	} else if !isBase64(unquote(m.raw)) {
		v.problem("data_base64", "must be Base64 (RFC 4648)", codeBase64)
	}
	if v.attrs[attrData] != nil {
		v.problem("data_base64", "must not be present together with data", codeDataAndBase64)
	}
}

func isBase64(s string) bool {
	if strings.ContainsAny(s, "\r\n") { // base64 skips them; RFC 4648 3.3 does not
		return false
	}
	_, err := base64.StdEncoding.Strict().DecodeString(s)
	return err == nil
}

// checkExtension: a name of 1 to 20 characters of a-z and 0-9, a string,
// integer or boolean value (JSON format section 2.2); null means unset.
func (v *validator) checkExtension(m *member) {
	if v.reportDuplicate(m, m.name) {
		return
	}
	if !isExtensionName(m.name) {
		v.problem(m.name, "is not a valid attribute name (1 to 20 characters of a-z and 0-9)", codeExtensionName)
		return
	}
	switch m.kind {
	case kindNull, kindString, kindTrue, kindFalse:
	case kindNumber:
		if !isInteger(m.raw) {
			v.problem(m.name, "must be a string, an integer or a boolean", codeExtensionNotInteger)
		} else if _, err := strconv.ParseInt(string(m.raw), 10, 32); err != nil {
			v.problem(m.name, "must be an integer from -2147483648 to 2147483647", codeExtensionRange)
		}
	default:
		v.problem(m.name, "must be a string, an integer or a boolean", codeExtensionValue)
	}
}

// isInteger: a number token with no fraction and no exponent.
func isInteger(tok []byte) bool {
	for _, c := range tok {
		if c == '.' || c == 'e' || c == 'E' {
			return false
		}
	}
	return true
}

func isExtensionName(s string) bool {
	if len(s) < 1 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || isDigit(c)) {
			return false
		}
	}
	return true
}

// isMediaType: type "/" subtype *(";" parameter) (RFC 2045 section 5.1, as
// RFC 2046 uses it). mime.ParseMediaType alone also accepts a bare token.
func isMediaType(s string) bool {
	mt, _, err := mime.ParseMediaType(s)
	if err != nil {
		return false
	}
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && typ != "" && sub != "" && !strings.Contains(sub, "/")
}
