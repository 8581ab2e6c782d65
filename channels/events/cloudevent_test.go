package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// base is a valid event's members, in an order that differs from the
// order problems are listed in.
const base = `"type":"com.example.a","source":"/s","id":"1","specversion":"1.0"`

func TestValidateProblems(t *testing.T) {
	type P = Problem
	tests := []struct {
		name  string
		event string
		want  []P // nil: valid
	}{
		{"minimal", `{` + base + `}`, nil},
		{"every optional attribute", `{` + base + `,"subject":"s","time":"2026-11-25T20:32:07.721038Z","datacontenttype":"application/json; charset=utf-8","dataschema":"https://example.com/s.json","data":{"a":[1,2,{"b":null}]},"ext1":"x","ext2":7,"ext3":true,"ext4":-2147483648}`, nil},
		{"data null", `{` + base + `,"data":null}`, nil},
		{"data a string", `{` + base + `,"data":"x"}`, nil},
		{"data_base64", `{` + base + `,"data_base64":"aGVsbG8="}`, nil},
		{"data_base64 empty", `{` + base + `,"data_base64":""}`, nil},
		{"null optional attributes are unset", `{` + base + `,"subject":null,"time":null,"datacontenttype":null,"dataschema":null,"data_base64":null,"ext":null}`, nil},
		{"source absolute URI", `{"specversion":"1.0","id":"1","source":"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66","type":"t"}`, nil},
		{"source with authority and IPv6", `{"specversion":"1.0","id":"1","source":"https://u:p@[2001:db8::1]:8080/a/b?q=1#f","type":"t"}`, nil},
		{"source relative name", `{"specversion":"1.0","id":"1","source":"my-service","type":"t"}`, nil},
		{"escaped member names and values", `{"spec\u0076ersion":"1\u002e0","id":"\u00e9","source":"\/s","type":"t"}`, nil},
		{"time with offset", `{` + base + `,"time":"2026-11-25T20:32:07+01:00"}`, nil},
		{"extension of 20 characters", `{` + base + `,"abcdefghij0123456789":"x"}`, nil},

		{"empty object", `{}`, []P{{"specversion", "is required", 0}, {"id", "is required", 0}, {"source", "is required", 0}, {"type", "is required", 0}}},
		{"specversion missing", `{"id":"1","source":"/s","type":"t"}`, []P{{"specversion", "is required", 0}}},
		{"specversion null", `{"specversion":null,"id":"1","source":"/s","type":"t"}`, []P{{"specversion", "is required", 0}}},
		{"specversion 0.3", `{"specversion":"0.3","id":"1","source":"/s","type":"t"}`, []P{{"specversion", `must be "1.0"`, 0}}},
		{"specversion 1.0.0", `{"specversion":"1.0.0","id":"1","source":"/s","type":"t"}`, []P{{"specversion", `must be "1.0"`, 0}}},
		{"specversion a number", `{"specversion":1.0,"id":"1","source":"/s","type":"t"}`, []P{{"specversion", "must be a string", 0}}},
		{"id missing", `{"specversion":"1.0","source":"/s","type":"t"}`, []P{{"id", "is required", 0}}},
		{"id empty", `{"specversion":"1.0","id":"","source":"/s","type":"t"}`, []P{{"id", "must not be empty", 0}}},
		{"id a number", `{"specversion":"1.0","id":1,"source":"/s","type":"t"}`, []P{{"id", "must be a string", 0}}},
		{"id null", `{"specversion":"1.0","id":null,"source":"/s","type":"t"}`, []P{{"id", "is required", 0}}},
		{"source missing", `{"specversion":"1.0","id":"1","type":"t"}`, []P{{"source", "is required", 0}}},
		{"source empty", `{"specversion":"1.0","id":"1","source":"","type":"t"}`, []P{{"source", "must not be empty", 0}}},
		{"source an object", `{"specversion":"1.0","id":"1","source":{},"type":"t"}`, []P{{"source", "must be a string", 0}}},
		{"source with a space", `{"specversion":"1.0","id":"1","source":"/a b","type":"t"}`, []P{{"source", "must be a URI-reference (RFC 3986)", 0}}},
		{"source with a bad escape", `{"specversion":"1.0","id":"1","source":"/a%zz","type":"t"}`, []P{{"source", "must be a URI-reference (RFC 3986)", 0}}},
		{"source with a colon in the first segment", `{"specversion":"1.0","id":"1","source":"a b:c","type":"t"}`, []P{{"source", "must be a URI-reference (RFC 3986)", 0}}},
		{"source with a bad port", `{"specversion":"1.0","id":"1","source":"http://h:x/","type":"t"}`, []P{{"source", "must be a URI-reference (RFC 3986)", 0}}},
		{"type missing", `{"specversion":"1.0","id":"1","source":"/s"}`, []P{{"type", "is required", 0}}},
		{"type empty", `{"specversion":"1.0","id":"1","source":"/s","type":""}`, []P{{"type", "must not be empty", 0}}},
		{"type a boolean", `{"specversion":"1.0","id":"1","source":"/s","type":true}`, []P{{"type", "must be a string", 0}}},
		{"subject empty", `{` + base + `,"subject":""}`, []P{{"subject", "must not be empty", 0}}},
		{"subject a number", `{` + base + `,"subject":3}`, []P{{"subject", "must be a string", 0}}},
		{"time not RFC 3339", `{` + base + `,"time":"2026-11-25 20:32:07Z"}`, []P{{"time", "must be an RFC 3339 timestamp", 0}}},
		{"time without zone", `{` + base + `,"time":"2026-11-25T20:32:07"}`, []P{{"time", "must be an RFC 3339 timestamp", 0}}},
		{"time a number", `{` + base + `,"time":1764102727}`, []P{{"time", "must be a string", 0}}},
		{"datacontenttype empty", `{` + base + `,"datacontenttype":""}`, []P{{"datacontenttype", "must not be empty", 0}}},
		{"datacontenttype not a media type", `{` + base + `,"datacontenttype":"json"}`, []P{{"datacontenttype", "must be a media type (RFC 2046)", 0}}},
		{"datacontenttype a number", `{` + base + `,"datacontenttype":1}`, []P{{"datacontenttype", "must be a string", 0}}},
		{"dataschema relative", `{` + base + `,"dataschema":"/schema"}`, []P{{"dataschema", "must be an absolute URI (RFC 3986)", 0}}},
		{"dataschema with a fragment", `{` + base + `,"dataschema":"https://e.com/s#x"}`, []P{{"dataschema", "must be an absolute URI (RFC 3986)", 0}}},
		{"dataschema empty", `{` + base + `,"dataschema":""}`, []P{{"dataschema", "must not be empty", 0}}},
		{"data_base64 not base64", `{` + base + `,"data_base64":"!!"}`, []P{{"data_base64", "must be Base64 (RFC 4648)", 0}}},
		{"data_base64 unpadded", `{` + base + `,"data_base64":"aGk"}`, []P{{"data_base64", "must be Base64 (RFC 4648)", 0}}},
		{"data_base64 with a line break", `{` + base + `,"data_base64":"aGVs\nbG8="}`, []P{{"data_base64", "must be Base64 (RFC 4648)", 0}}},
		{"data_base64 a number", `{` + base + `,"data_base64":12}`, []P{{"data_base64", "must be a string", 0}}},
		{"data and data_base64", `{` + base + `,"data":{},"data_base64":"aGk="}`, []P{{"data_base64", "must not be present together with data", 0}}},
		{"data null and data_base64", `{` + base + `,"data":null,"data_base64":"aGk="}`, []P{{"data_base64", "must not be present together with data", 0}}},
		{"extension name uppercase", `{` + base + `,"Ext":"x"}`, []P{{"Ext", "is not a valid attribute name (1 to 20 characters of a-z and 0-9)", 0}}},
		{"extension name with underscore", `{` + base + `,"my_ext":"x"}`, []P{{"my_ext", "is not a valid attribute name (1 to 20 characters of a-z and 0-9)", 0}}},
		{"extension name of 21 characters", `{` + base + `,"abcdefghij0123456789x":"x"}`, []P{{"abcdefghij0123456789x", "is not a valid attribute name (1 to 20 characters of a-z and 0-9)", 0}}},
		{"extension name empty", `{` + base + `,"":"x"}`, []P{{"", "is not a valid attribute name (1 to 20 characters of a-z and 0-9)", 0}}},
		{"extension an object", `{` + base + `,"ext":{}}`, []P{{"ext", "must be a string, an integer or a boolean", 0}}},
		{"extension an array", `{` + base + `,"ext":[]}`, []P{{"ext", "must be a string, an integer or a boolean", 0}}},
		{"extension a fraction", `{` + base + `,"ext":1.5}`, []P{{"ext", "must be a string, an integer or a boolean", 0}}},
		{"extension an exponent", `{` + base + `,"ext":1e3}`, []P{{"ext", "must be a string, an integer or a boolean", 0}}},
		{"extension over int32", `{` + base + `,"ext":2147483648}`, []P{{"ext", "must be an integer from -2147483648 to 2147483647", 0}}},
		{"duplicate attribute", `{` + base + `,"id":"2"}`, []P{{"id", "appears more than once", 0}}},
		{"duplicate extension", `{` + base + `,"ext":"a","ext":"a"}`, []P{{"ext", "appears more than once", 0}}},
		{"duplicate data", `{` + base + `,"data":1,"data":2}`, []P{{"data", "appears more than once", 0}}},
		{"not JSON", `{"id":`, []P{{"", "is not valid JSON", 0}}},
		{"trailing text", `{` + base + `} x`, []P{{"", "is not valid JSON", 0}}},
		{"invalid UTF-8", "{" + base + ",\"subject\":\"\xff\"}", []P{{"", "is not valid JSON", 0}}},
		{"an array", `[{` + base + `}]`, []P{{"", "must be a JSON object", 0}}},
		{"a string", `"event"`, []P{{"", "must be a JSON object", 0}}},
		{"null", `null`, []P{{"", "must be a JSON object", 0}}},
		{"every problem, in attribute order", `{"zext":{},"data_base64":"?","data":1,"time":"x","subject":"","dataschema":"x","datacontenttype":"","type":"","source":" ","id":7,"specversion":"2","Bad":1}`, []P{
			{"specversion", `must be "1.0"`, 0},
			{"id", "must be a string", 0},
			{"source", "must be a URI-reference (RFC 3986)", 0},
			{"type", "must not be empty", 0},
			{"datacontenttype", "must not be empty", 0},
			{"dataschema", "must be an absolute URI (RFC 3986)", 0},
			{"subject", "must not be empty", 0},
			{"time", "must be an RFC 3339 timestamp", 0},
			{"data_base64", "must be Base64 (RFC 4648)", 0},
			{"data_base64", "must not be present together with data", 0},
			{"zext", "must be a string, an integer or a boolean", 0},
			{"Bad", "is not a valid attribute name (1 to 20 characters of a-z and 0-9)", 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate([]byte(tt.event), 0)
			var got []Problem
			if err != nil {
				inv, ok := err.(*InvalidEventError)
				if !ok {
					t.Fatalf("error %T, want *InvalidEventError", err)
				}
				got = inv.Problems
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(Problem{})); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateSizeLimit(t *testing.T) {
	ev := `{` + base + `,"data":"` + strings.Repeat("x", 100) + `"}`
	if _, err := Validate([]byte(ev), len(ev)); err != nil {
		t.Errorf("event of exactly the limit: %v", err)
	}
	_, err := Validate([]byte(ev), len(ev)-1)
	want := &InvalidEventError{Problems: []Problem{{Message: fmt.Sprintf("is %d bytes, more than the limit of %d", len(ev), len(ev)-1)}}}
	if diff := cmp.Diff(want, err, cmpopts.IgnoreUnexported(Problem{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	big := `{` + base + `,"data":"` + strings.Repeat("x", DefaultMaxEventBytes) + `"}`
	if _, err := Validate([]byte(big), 0); err == nil {
		t.Error("event over the default limit accepted")
	}
}

func TestValidateReturnsIDAndType(t *testing.T) {
	ev, err := Validate([]byte(`{"specversion":"1.0","id":"a\"b","source":"/s","type":"com.\u0061"}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != `a"b` || ev.Type != "com.a" {
		t.Errorf("ID %q Type %q", ev.ID, ev.Type)
	}
	var reply struct{ ID string }
	if err := json.Unmarshal(idPayload(ev.idToken), &reply); err != nil || reply.ID != `a"b` {
		t.Errorf("id reply %s: %v", idPayload(ev.idToken), err)
	}
}

func TestInvalidEventSentence(t *testing.T) {
	_, err := Validate([]byte(`{}`), 0)
	want := "The event is not a valid CloudEvent: specversion is required (and 3 more problems)."
	if got := err.(*InvalidEventError).Sentence(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
