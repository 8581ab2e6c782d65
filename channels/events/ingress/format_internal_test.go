package ingress

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding/format"
)

// eventFormat agrees with sdk-go's format.Lookup, the reference of the
// CloudEvents HTTP binding, on what is structured and what is batch mode.
func TestEventFormatAgreesWithSDK(t *testing.T) {
	for _, ct := range []string{
		"application/cloudevents+json",
		"application/cloudevents+json; charset=utf-8",
		"Application/CloudEvents+JSON;charset=UTF-8",
		"  application/cloudevents+json  ; x=y",
		"application/cloudevents-batch+json",
		"APPLICATION/CLOUDEVENTS-BATCH+JSON; charset=utf-8",
		"application/cloudevents",
		"application/cloudevents+xml",
		"application/cloudevents+protobuf",
		"application/json",
		"text/plain",
		"",
		";",
		"application/cloudevents+json\t",
	} {
		var want string
		switch format.Lookup(ct) {
		case format.JSON:
			want = formatJSON
		case format.JSONBatch:
			want = formatJSONBatch
		}
		got := eventFormat(ct)
		if got != formatJSON && got != formatJSONBatch {
			got = ""
		}
		if got != want {
			t.Errorf("%q: eventFormat says %q, sdk-go's format.Lookup %q", ct, got, want)
		}
	}
}
