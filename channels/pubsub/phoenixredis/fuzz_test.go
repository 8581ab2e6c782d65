package phoenixredis

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// FuzzClassify feeds arbitrary bytes to a node's receiver: it never
// panics, and what it delivers is a broadcast of a subscribed topic with a
// JSON payload (or a binary one).
func FuzzClassify(f *testing.F) {
	for _, c := range loadCaptures(f) {
		f.Add(c.bytes(f))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := testClassifier("fawkes-1", "events:lobby")
		c.maxInflated = 1 << 16
		b, why, _ := c.classify(in)
		if why >= numSkipReasons {
			t.Fatalf("reason %d", why)
		}
		if why != Delivered {
			if b != nil {
				t.Fatal("a skipped message came with a broadcast")
			}
			return
		}
		if b.Topic != "events:lobby" || !b.Binary && !json.Valid(b.Payload) {
			t.Fatalf("delivered %q %q %q", b.Topic, b.Event, b.Payload)
		}
	})
}

// FuzzBroadcastRoundTrip sends a client's JSON payload through the whole
// bridge: what a Fawkes node publishes for the Elixir nodes, read back as
// an Elixir broadcast, carries the same JSON value (Jason's view of it:
// the last of duplicate keys wins, invalid UTF-8 becomes U+FFFD). Every
// payload the encoder takes decodes, compressed or not; one that is not an
// object is sent (Elixir's clients take any JSON) but not taken back, as
// a channel frame carries an object.
func FuzzBroadcastRoundTrip(f *testing.F) {
	for _, s := range []string{
		lobbyEvent, `{"a":1,"a":[1,2,300]}`, `[]`, `"x"`, `{"n":-18446744073709551621,"f":1e300,"g":1.0}`,
		`{"k":"\u00e9\ud800","l":[[[{}]]]}`, `{"z":0.1,"y":-0.0,"x":[255,0,1]}`,
	} {
		f.Add(s, uint8(0))
	}
	f.Fuzz(func(t *testing.T, payload string, level uint8) {
		b := pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(payload))
		msg, err := AppendBroadcast(nil, "fawkes-2", b)
		if payload == "" {
			payload = "{}" // no payload goes out as %{}, as in Phoenix's frames
		}
		if err != nil {
			if json.Valid([]byte(payload)) {
				var e *etf.Error
				if !errors.As(err, &e) || !e.Unrepresentable {
					t.Fatalf("valid JSON %q refused: %v", payload, err)
				}
			}
			return
		}
		if !json.Valid([]byte(payload)) {
			t.Fatalf("invalid JSON %q encoded", payload)
		}
		if level%10 > 0 {
			msg = etf.Compress(msg, int(level%10))
		}
		c := testClassifier("fawkes-1", "events:lobby")
		got, why, err := c.classify(msg)
		if trimmed := bytes.TrimLeft([]byte(payload), " \t\r\n"); trimmed[0] != '{' {
			if why != SkipUnrepresentable {
				t.Fatalf("%q, not an object: %v %v; a channel frame needs an object", payload, why, err)
			}
			return
		}
		if why != Delivered {
			t.Fatalf("%q: %v %v", payload, why, err)
		}
		if !jsonEqual(got.Payload, []byte(payload)) {
			t.Fatalf("sent %s\nreceived %s", payload, got.Payload)
		}
	})
}
