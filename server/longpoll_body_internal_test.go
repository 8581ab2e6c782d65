package server

import (
	"encoding/base64"
	"testing"

	"github.com/fawkes-rt/fawkes/protocol"
)

// FuzzLongPollBody feeds arbitrary POST bodies to the LongPoll body parser
// with each content type it distinguishes: it must never panic, never
// return more than maxLongPollBatch messages, and a body it accepts must
// give the same messages when parsed again.
func FuzzLongPollBody(f *testing.F) {
	push := `["1","2","events:r","cloudevent",{"id":"x"}]`
	f.Add(true, []byte(push))
	f.Add(true, []byte(push+"\n"+push+"\r\n\n"))
	f.Add(true, []byte(base64.StdEncoding.EncodeToString([]byte{0, 1, 1, 1, 1, 'a', 'b', 'c', 'd', '{', '}'})))
	f.Add(false, []byte(push))
	f.Add(true, []byte("not base64 \n["))
	f.Fuzz(func(t *testing.T, ndjson bool, body []byte) {
		ct := "application/json"
		if ndjson {
			ct = "application/x-ndjson"
		}
		msgs, err := decodeLongPollBody(protocol.V2JSON, ct, body, 1<<16)
		if err != nil {
			return
		}
		if len(msgs) > maxLongPollBatch {
			t.Fatalf("%d messages from one body, over the cap of %d", len(msgs), maxLongPollBatch)
		}
		again, err := decodeLongPollBody(protocol.V2JSON, ct, body, 1<<16)
		if err != nil || len(again) != len(msgs) {
			t.Fatalf("second parse: %d messages, %v; first: %d", len(again), err, len(msgs))
		}
	})
}
