package redis

import (
	"bytes"
	"testing"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	node := [nodeIDLen]byte{1, 2, 3}
	for _, b := range []*pubsub.Broadcast{
		pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(`{"a":1}`)),
		pubsub.NewBroadcast("", "", nil),
		{Topic: "t", Event: "bin", Payload: []byte{0, 255}, Binary: true},
	} {
		gotNode, got, err := decodeEnvelope(encodeEnvelope(node, b))
		if err != nil || gotNode != node || got.Topic != b.Topic || got.Event != b.Event || got.Binary != b.Binary || !bytes.Equal(got.Payload, b.Payload) {
			t.Errorf("round trip of %+v: got %+v, %v", b, got, err)
		}
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(encodeEnvelope([nodeIDLen]byte{}, pubsub.NewBroadcast("t", "e", []byte(`{}`))))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		node, b, err := decodeEnvelope(data)
		if err != nil {
			return
		}
		again, b2, err := decodeEnvelope(encodeEnvelope(node, b))
		if err != nil || again != node || b2.Topic != b.Topic || b2.Event != b.Event || !bytes.Equal(b2.Payload, b.Payload) || b2.Binary != b.Binary {
			t.Fatalf("unstable round trip")
		}
	})
}
