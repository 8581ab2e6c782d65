package protocol_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/protocol"
)

// errCase is a malformed input: the sentinel the error must match and a
// piece of text its message must contain, so that it says what is wrong.
type errCase struct {
	name   string
	in     string
	binary bool
	want   error
	text   string
}

func checkErr(t *testing.T, err, want error, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Errorf("error %q is not %q", err, want)
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Errorf("error %T is not a *protocol.Error", err)
	}
	if !strings.HasPrefix(err.Error(), "protocol: ") || !strings.Contains(err.Error(), text) {
		t.Errorf("error %q does not say %q", err, text)
	}
}

func deep(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

func TestV2DecodeErrors(t *testing.T) {
	for _, c := range []errCase{
		{name: "empty", in: "", want: protocol.ErrNotJSON, text: "empty frame"},
		{name: "spaces", in: " \n\t", want: protocol.ErrNotJSON, text: "empty frame"},
		{name: "not JSON", in: "hello", want: protocol.ErrNotJSON, text: "not valid JSON"},
		{name: "unterminated array", in: `[null,null,"t","e",{}`, want: protocol.ErrNotJSON, text: "unterminated array"},
		{name: "unterminated string", in: `[null,null,"t`, want: protocol.ErrNotJSON, text: "unterminated string"},
		{name: "trailing comma", in: `[null,null,"t","e",{},]`, want: protocol.ErrNotJSON, text: "unexpected character"},
		{name: "missing comma", in: `[null null,"t","e",{}]`, want: protocol.ErrNotJSON, text: "expected , or ]"},
		{name: "data after array", in: `[null,null,"t","e",{}] []`, want: protocol.ErrNotJSON, text: "data after the array"},
		{name: "bad payload", in: `[null,null,"t","e",{"a"}]`, want: protocol.ErrNotJSON, text: "expected :"},
		{name: "bad number ref", in: `[01,null,"t","e",{}]`, want: protocol.ErrNotJSON, text: "expected , or ]"},
		{name: "bad escape", in: `[null,null,"\x","e",{}]`, want: protocol.ErrNotJSON, text: "invalid escape"},
		{name: "bad unicode escape", in: `[null,null,"\u12","e",{}]`, want: protocol.ErrNotJSON, text: `invalid \u escape`},
		{name: "control character", in: "[null,null,\"a\x01\",\"e\",{}]", want: protocol.ErrNotJSON, text: "control character"},
		{name: "invalid UTF-8 in topic", in: "[null,null,\"\xff\",\"e\",{}]", want: protocol.ErrNotJSON, text: "invalid UTF-8"},
		{name: "invalid UTF-8 in payload", in: "[null,null,\"t\",\"e\",{\"a\":\"\xc3\x28\"}]", want: protocol.ErrNotJSON, text: "invalid UTF-8"},
		{name: "object", in: `{"topic":"t","event":"e","payload":{},"ref":"1"}`, want: protocol.ErrShape, text: "must be a JSON array"},
		{name: "string", in: `"hi"`, want: protocol.ErrShape, text: "must be a JSON array"},
		{name: "number", in: `42`, want: protocol.ErrShape, text: "must be a JSON array"},
		{name: "null", in: `null`, want: protocol.ErrShape, text: "must be a JSON array"},
		{name: "empty array", in: `[]`, want: protocol.ErrTooFewElements, text: "fewer than 5 elements: got 0"},
		{name: "one element", in: `[ null ]`, want: protocol.ErrTooFewElements, text: "got 1"},
		{name: "four elements", in: `[null,null,"t","e"]`, want: protocol.ErrTooFewElements, text: "got 4"},
		{name: "numeric topic", in: `[null,null,1,"e",{}]`, want: protocol.ErrFieldType, text: "topic must be a string"},
		{name: "null topic", in: `[null,null,null,"e",{}]`, want: protocol.ErrFieldType, text: "topic must be a string"},
		{name: "object event", in: `[null,null,"t",{},{}]`, want: protocol.ErrFieldType, text: "event must be a string"},
		{name: "array event", in: `[null,null,"t",["e"],{}]`, want: protocol.ErrFieldType, text: "event must be a string"},
		{name: "deep payload", in: `[null,null,"t","e",` + deep("[", "]", 2000) + `]`, want: protocol.ErrTooDeep, text: "nested too deeply"},
		{name: "deep object payload", in: `[null,null,"t","e",` + deep(`{"a":`, "}", 2000) + `]`, want: protocol.ErrTooDeep, text: "nested too deeply"},
		{name: "deep ref", in: `[` + deep("[", "]", 2000) + `,null,"t","e",{}]`, want: protocol.ErrTooDeep, text: "nested too deeply"},
		{name: "deep extra element", in: `[null,null,"t","e",{},` + deep("[", "]", 2000) + `]`, want: protocol.ErrTooDeep, text: "nested too deeply"},
		{name: "deep non-array", in: deep("{\"a\":", "}", 2000), want: protocol.ErrTooDeep, text: "nested too deeply"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := protocol.V2JSON.Decode([]byte(c.in), false)
			checkErr(t, err, c.want, c.text)
		})
	}
}

func TestV2DecodeNestingLimit(t *testing.T) {
	// 999 levels inside the array still decode: the limit is for hostile
	// input, not for payloads people send.
	in := `[null,null,"t","e",` + deep("[", "]", 999) + `]`
	m, err := protocol.V2JSON.Decode([]byte(in), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Payload) != 2*999 {
		t.Errorf("payload has %d bytes", len(m.Payload))
	}
}

func TestV1DecodeErrors(t *testing.T) {
	for _, c := range []errCase{
		{name: "empty", in: "", want: protocol.ErrNotJSON, text: "empty frame"},
		{name: "not JSON", in: "hello", want: protocol.ErrNotJSON, text: "unexpected character"},
		{name: "unterminated object", in: `{"topic":"t"`, want: protocol.ErrNotJSON, text: "unterminated object"},
		{name: "data after object", in: `{"topic":"t","event":"e","payload":{},"ref":null} {}`, want: protocol.ErrNotJSON, text: "data after the object"},
		{name: "invalid UTF-8", in: "{\"topic\":\"\xff\",\"event\":\"e\",\"payload\":{},\"ref\":null}", want: protocol.ErrNotJSON, text: "invalid UTF-8"},
		{name: "V2 array", in: `["1","1","room:lobby","phx_join",{}]`, want: protocol.ErrV2OnV1, text: "V2 array sent to a V1 serializer"},
		{name: "empty array", in: `[]`, want: protocol.ErrV2OnV1, text: "vsn=2.0.0"},
		{name: "string", in: `"hi"`, want: protocol.ErrShape, text: "must be a JSON object"},
		{name: "null", in: `null`, want: protocol.ErrShape, text: "must be a JSON object"},
		{name: "missing topic", in: `{"event":"e","payload":{},"ref":"1"}`, want: protocol.ErrMissingKey, text: "missing key: topic"},
		{name: "missing event", in: `{"topic":"t","payload":{},"ref":"1"}`, want: protocol.ErrMissingKey, text: "missing key: event"},
		{name: "missing payload", in: `{"topic":"t","event":"e","ref":"1"}`, want: protocol.ErrMissingKey, text: "missing key: payload"},
		{name: "missing ref", in: `{"topic":"t","event":"e","payload":{}}`, want: protocol.ErrMissingKey, text: "missing key: ref"},
		{name: "empty object", in: `{}`, want: protocol.ErrMissingKey, text: "missing key: topic"},
		{name: "key case matters", in: `{"Topic":"t","event":"e","payload":{},"ref":"1"}`, want: protocol.ErrMissingKey, text: "missing key: topic"},
		{name: "numeric topic", in: `{"topic":1,"event":"e","payload":{},"ref":"1"}`, want: protocol.ErrFieldType, text: "topic must be a string"},
		{name: "null event", in: `{"topic":"t","event":null,"payload":{},"ref":"1"}`, want: protocol.ErrFieldType, text: "event must be a string"},
		{name: "last duplicate topic not a string", in: `{"topic":"t","topic":[],"event":"e","payload":{},"ref":"1"}`, want: protocol.ErrFieldType, text: "topic must be a string"},
		{name: "deep payload", in: `{"topic":"t","event":"e","ref":null,"payload":` + deep("[", "]", 2000) + `}`, want: protocol.ErrTooDeep, text: "nested too deeply"},
		{name: "binary frame", in: "\x00\x00\x00\x01\x01te", binary: true, want: protocol.ErrBinaryUnsupported, text: "V1 has no binary frames"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := protocol.V1JSON.Decode([]byte(c.in), c.binary)
			checkErr(t, err, c.want, c.text)
		})
	}
}

func TestBinaryDecodeErrors(t *testing.T) {
	for _, c := range []errCase{
		{name: "empty", in: "", want: protocol.ErrTruncated, text: "truncated binary frame: empty frame"},
		{name: "kind only", in: "\x00", want: protocol.ErrTruncated, text: "header needs 5 bytes, got 1"},
		{name: "short header", in: "\x00\x02\x03", want: protocol.ErrTruncated, text: "header needs 5 bytes, got 3"},
		{name: "short fields", in: "\x00\x02\x03\x05\x0512", want: protocol.ErrTruncated, text: "fields need 20 bytes, got 7"},
		{name: "one byte short", in: "\x00\x02\x03\x05\x0512123topicevent"[:19], want: protocol.ErrTruncated, text: "fields need 20 bytes, got 19"},
		{name: "max lengths", in: "\x00\xff\xff\xff\xff", want: protocol.ErrTruncated, text: "fields need 1025 bytes, got 5"},
		{name: "reply kind", in: "\x01\x02\x03\x05\x02121234topicok", want: protocol.ErrUnknownKind, text: "kind 1 (clients send only 0)"},
		{name: "broadcast kind", in: "\x02\x05\x05topicevent", want: protocol.ErrUnknownKind, text: "kind 2"},
		{name: "kind 255", in: "\xff", want: protocol.ErrUnknownKind, text: "kind 255"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := protocol.V2JSON.Decode([]byte(c.in), true)
			checkErr(t, err, c.want, c.text)
		})
	}
}

// decoded is a decoded message with its refs as the JSON they encode to.
type decoded struct {
	JoinRef, Ref, Topic, Event, Payload string
	Binary                              bool
}

func decodedOf(m protocol.Message) decoded {
	return decoded{m.JoinRef.JSON(), m.Ref.JSON(), m.Topic, m.Event, string(m.Payload), m.Binary}
}

func TestV2Decode(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want decoded
	}{
		{"string refs", `["3","4","room:lobby","phx_join",{}]`, decoded{`"3"`, `"4"`, "room:lobby", "phx_join", `{}`, false}},
		{"null refs", `[null,null,"t","e",{"a":1}]`, decoded{"null", "null", "t", "e", `{"a":1}`, false}},
		{"numeric refs echo as numbers", `[1,-2.5e3,"t","e",{}]`, decoded{"1", "-2.5e3", "t", "e", `{}`, false}},
		{"escaped string ref echoed verbatim", `["a\"b","\u0031","t","e",{}]`, decoded{`"a\"b"`, `"\u0031"`, "t", "e", `{}`, false}},
		{"other JSON refs kept", `[true,{"x":[1]},"t","e",{}]`, decoded{"true", `{"x":[1]}`, "t", "e", `{}`, false}},
		{"escaped topic and event", `[null,null,"room:\u00e9\n","a\/b\ud83d\ude00",{}]`, decoded{"null", "null", "room:é\n", "a/b😀", `{}`, false}},
		{"lone surrogate", `[null,null,"\ud800x","e",{}]`, decoded{"null", "null", "\ufffdx", "e", `{}`, false}},
		{"whitespace", " [ \"1\" ,\n null\t, \"t\" , \"e\" , { \"a\" : [ ] } ] \r\n", decoded{`"1"`, "null", "t", "e", `{ "a" : [ ] }`, false}},
		{"extra trailing elements ignored", `[null,"1","t","e",{},"x",[1,{"y":2}],null]`, decoded{"null", `"1"`, "t", "e", `{}`, false}},
		{"non-object payload accepted from clients", `[null,null,"t","e",[1,"2"]]`, decoded{"null", "null", "t", "e", `[1,"2"]`, false}},
		{"string payload", `[null,null,"t","e","hi"]`, decoded{"null", "null", "t", "e", `"hi"`, false}},
		{"empty strings", `["","","","",{}]`, decoded{`""`, `""`, "", "", `{}`, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := protocol.V2JSON.Decode([]byte(c.in), false)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != protocol.Push {
				t.Errorf("Kind = %v", m.Kind)
			}
			if diff := cmp.Diff(c.want, decodedOf(m)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Echo: encoding the decoded message gives the refs back as
			// the same JSON tokens.
			out, err := protocol.V2JSON.Append(nil, &protocol.Message{JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: m.Event})
			if err != nil {
				t.Fatal(err)
			}
			wantPrefix := "[" + c.want.JoinRef + "," + c.want.Ref + ","
			if !strings.HasPrefix(string(out), wantPrefix) {
				t.Errorf("re-encoded %s, want prefix %s", out, wantPrefix)
			}
		})
	}
}

func TestV2DecodeAliasesPayload(t *testing.T) {
	in := []byte(`["1","2","t","e",{"a":1}]`)
	m, err := protocol.V2JSON.Decode(in, false)
	if err != nil {
		t.Fatal(err)
	}
	copy(in, `["9","9","x","y"`)
	if m.JoinRef.String() != "1" || m.Ref.String() != "2" || m.Topic != "t" || m.Event != "e" {
		t.Errorf("strings changed with the frame: %+v", m)
	}
	in[len(in)-3] = '7'
	if string(m.Payload) != `{"a":7}` {
		t.Errorf("payload %s does not alias the frame", m.Payload)
	}
}

func TestV1Decode(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want decoded
	}{
		{"phoenix.js v1 join", `{"topic":"room:lobby","event":"phx_join","payload":{},"ref":"1"}`, decoded{"null", `"1"`, "room:lobby", "phx_join", `{}`, false}},
		{"with join_ref", `{"topic":"t","event":"e","payload":{"b":"hi"},"ref":"2","join_ref":"1"}`, decoded{`"1"`, `"2"`, "t", "e", `{"b":"hi"}`, false}},
		{"any key order", `{"ref":null,"payload":[1],"join_ref":null,"event":"e","topic":"t"}`, decoded{"null", "null", "t", "e", `[1]`, false}},
		{"numeric refs echo as numbers", `{"topic":"t","event":"e","payload":{},"ref":7,"join_ref":0.5}`, decoded{"0.5", "7", "t", "e", `{}`, false}},
		{"escaped ref echoed verbatim", `{"topic":"t","event":"e","payload":{},"ref":"\u0031\/"}`, decoded{"null", `"\u0031\/"`, "t", "e", `{}`, false}},
		{"escaped ref of encoder length echoed verbatim", `{"topic":"t","event":"e","payload":{},"ref":"\b\/\/\/\/"}`, decoded{"null", `"\b\/\/\/\/"`, "t", "e", `{}`, false}},
		{"escaped keys and values", `{"t\u006fpic":"a\tb","event":"\"e\"","payload":{},"ref":null}`, decoded{"null", "null", "a\tb", `"e"`, `{}`, false}},
		{"unknown keys ignored", `{"x":{"topic":1},"topic":"t","event":"e","payload":{},"ref":null,"y":[]}`, decoded{"null", "null", "t", "e", `{}`, false}},
		{"whitespace", " { \"topic\" : \"t\" ,\n\"event\":\"e\", \"payload\" : { } , \"ref\" : null } ", decoded{"null", "null", "t", "e", `{ }`, false}},
		{"duplicate key: last wins", `{"topic":"a","topic":"b","event":"e","payload":{},"ref":null}`, decoded{"null", "null", "b", "e", `{}`, false}},
		{"duplicate key: last wins over a wrong type", `{"topic":1,"topic":"b","event":"e","payload":{},"ref":null,"ref":2}`, decoded{"null", "2", "b", "e", `{}`, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := protocol.V1JSON.Decode([]byte(c.in), false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, decodedOf(m)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			out, err := protocol.V1JSON.Append(nil, &protocol.Message{Ref: m.Ref, Topic: m.Topic, Event: m.Event})
			if err != nil {
				t.Fatal(err)
			}
			if want := `"ref":` + c.want.Ref + ","; !strings.Contains(string(out), want) {
				t.Errorf("re-encoded %s, want %s", out, want)
			}
		})
	}
}

func TestBinaryDecode(t *testing.T) {
	for _, c := range []struct {
		name string
		in   string
		want decoded
	}{
		{"spec example", "\x00\x02\x03\x05\x0512123topiceventefg", decoded{`"12"`, `"123"`, "topic", "event", "efg", true}},
		{"empty fields and payload", "\x00\x00\x00\x00\x00", decoded{`""`, `""`, "", "", "", true}},
		{"payload not UTF-8", "\x00\x01\x01\x01\x0101te\xff\x00\xfe", decoded{`"0"`, `"1"`, "t", "e", "\xff\x00\xfe", true}},
		{"JSON-looking payload stays bytes", "\x00\x00\x00\x01\x01te{}", decoded{`""`, `""`, "t", "e", "{}", true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := protocol.V2JSON.Decode([]byte(c.in), true)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, decodedOf(m)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// 255-byte fields, the most a binary frame can carry.
	long := strings.Repeat("x", 255)
	in := "\x00\xff\xff\xff\xff" + long + long + long + long + "p"
	m, err := protocol.V2JSON.Decode([]byte(in), true)
	if err != nil {
		t.Fatal(err)
	}
	if m.JoinRef.String() != long || m.Ref.String() != long || m.Topic != long || m.Event != long || string(m.Payload) != "p" {
		t.Errorf("255-byte fields decoded wrong")
	}
}

func TestRefEqual(t *testing.T) {
	for _, c := range []struct {
		a, b protocol.Ref
		want bool
	}{
		{protocol.Ref{}, protocol.Ref{}, true},
		{protocol.Ref{}, protocol.RawRef("null"), true},
		{protocol.Ref{}, protocol.StringRef(""), false},
		{protocol.Ref{}, protocol.RawRef("0"), false},
		{protocol.StringRef("1"), protocol.StringRef("1"), true},
		{protocol.StringRef("1"), protocol.StringRef("2"), false},
		{protocol.StringRef("1"), protocol.RawRef(`"1"`), true},
		{protocol.StringRef("1"), protocol.RawRef(`"\u0031"`), true},
		{protocol.StringRef("a/b"), protocol.RawRef(`"a\/b"`), true},
		{protocol.StringRef("1"), protocol.RawRef("1"), false}, // a number is not a string
		{protocol.RawRef("1"), protocol.RawRef("1"), true},
		{protocol.RawRef("1"), protocol.RawRef("2"), false},
		{protocol.RawRef(`"\/"`), protocol.RawRef(`"\u002f"`), true}, // same string, escaped two ways
		{protocol.RawRef(`"\/"`), protocol.RawRef(`"/"`), true},
		{protocol.RawRef(`"1"`), protocol.RawRef("1"), false},
		{protocol.RawRef("true"), protocol.StringRef("true"), false},
	} {
		if got := c.a.Equal(c.b); got != c.want {
			t.Errorf("%s.Equal(%s) = %v, want %v", c.a.JSON(), c.b.JSON(), got, c.want)
		}
		if got := c.b.Equal(c.a); got != c.want {
			t.Errorf("%s.Equal(%s) = %v, want %v", c.b.JSON(), c.a.JSON(), got, c.want)
		}
	}
}

func TestRefForms(t *testing.T) {
	for _, c := range []struct {
		r            protocol.Ref
		null         bool
		str, jsonTok string
	}{
		{protocol.Ref{}, true, "", "null"},
		{protocol.RawRef(""), true, "", "null"},
		{protocol.StringRef(""), false, "", `""`},
		{protocol.StringRef(`a"b` + "\n"), false, "a\"b\n", `"a\"b\n"`},
		{protocol.RawRef("12"), false, "12", "12"},
		{protocol.RawRef(`"\u00e9\/"`), false, "é/", `"\u00e9\/"`},
		{protocol.RawRef(`"\ud83d\ude00"`), false, "😀", `"\ud83d\ude00"`},
	} {
		if c.r.IsNull() != c.null || c.r.String() != c.str || c.r.JSON() != c.jsonTok {
			t.Errorf("ref %#v: IsNull %v String %q JSON %s; want %v %q %s", c.r, c.r.IsNull(), c.r.String(), c.r.JSON(), c.null, c.str, c.jsonTok)
		}
	}
}
