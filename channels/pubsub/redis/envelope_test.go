package redis

import (
	"bytes"
	"testing"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

func TestBroadcastEnvelopeRoundTrip(t *testing.T) {
	node := nodeID{1, 2, 3}
	for i, b := range []*pubsub.Broadcast{
		pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(`{"a":1}`)),
		pubsub.NewBroadcast("", "", nil),
		{Topic: "t", Event: "bin", Payload: []byte{0, 255}, Binary: true},
	} {
		seq := uint64(i*1000 + 1)
		h, body, err := decodeHeader(encodeBroadcast(node, seq, b))
		if err != nil || h.kind != kindBroadcast || h.node != node || h.seq != seq {
			t.Fatalf("header of %+v: %+v, %v", b, h, err)
		}
		got, err := decodeBroadcast(body)
		if err != nil || got.Topic != b.Topic || got.Event != b.Event || got.Binary != b.Binary || !bytes.Equal(got.Payload, b.Payload) {
			t.Errorf("round trip of %+v: got %+v, %v", b, got, err)
		}
	}
}

func TestRequestAndReplyEnvelopes(t *testing.T) {
	node := nodeID{9}
	h, body, err := decodeHeader(encodeRequest(node, request{id: 7, msLeft: 1500, kind: "longpoll.get", body: []byte("abc")}))
	if err != nil || h.kind != kindRequest || h.node != node || h.seq != 0 {
		t.Fatalf("request header %+v, %v", h, err)
	}
	r, err := decodeRequest(body)
	if err != nil || r.id != 7 || r.msLeft != 1500 || r.kind != "longpoll.get" || string(r.body) != "abc" {
		t.Fatalf("request %+v, %v", r, err)
	}
	h, body, err = decodeHeader(encodeReply(node, 7, replyNoHandler, []byte("x")))
	if err != nil || h.kind != kindReply {
		t.Fatalf("reply header %+v, %v", h, err)
	}
	id, status, payload, err := decodeReply(body)
	if err != nil || id != 7 || status != replyNoHandler || string(payload) != "x" {
		t.Fatalf("reply %d %d %q %v", id, status, payload, err)
	}
}

func TestNodeIDString(t *testing.T) {
	n := nodeID{0xff, 0xfe, 1}
	s := n.String()
	if len(s) != 22 {
		t.Fatalf("node id %q: want 22 characters", s)
	}
	if back, ok := parseNodeID(s); !ok || back != n {
		t.Fatalf("parse %q = %v, %v", s, back, ok)
	}
	for _, bad := range []string{"", "short", s + "A", "!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, ok := parseNodeID(bad); ok {
			t.Errorf("parseNodeID(%q) accepted", bad)
		}
	}
}

// FuzzDecodeEnvelope feeds arbitrary bytes to every decoder: none may
// panic, and a broadcast that decodes encodes back to the same fields.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(encodeBroadcast(nodeID{}, 1, pubsub.NewBroadcast("t", "e", []byte(`{}`))))
	f.Add(encodeRequest(nodeID{}, request{id: 1, kind: "k"}))
	f.Add(encodeReply(nodeID{}, 1, replyOK, nil))
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, body, err := decodeHeader(data)
		if err != nil {
			return
		}
		_, _ = decodeRequest(body)
		_, _, _, _ = decodeReply(body)
		b, err := decodeBroadcast(body)
		if err != nil {
			return
		}
		h2, body2, err := decodeHeader(encodeBroadcast(h.node, h.seq, b))
		if err != nil {
			t.Fatal(err)
		}
		b2, err := decodeBroadcast(body2)
		if err != nil || h2.node != h.node || h2.seq != h.seq || b2.Topic != b.Topic || b2.Event != b.Event || !bytes.Equal(b2.Payload, b.Payload) || b2.Binary != b.Binary {
			t.Fatalf("unstable round trip")
		}
	})
}

func TestDedupDropsCopiesAndLateBroadcasts(t *testing.T) {
	var d dedup
	a, b := nodeID{1}, nodeID{2}
	now := fixedNow()
	steps := []struct {
		node nodeID
		seq  uint64
		want bool
	}{
		{a, 1, true}, {a, 2, true}, {a, 2, false}, {b, 1, true}, {a, 1, false}, {a, 5, true}, {a, 3, false}, {b, 2, true},
	}
	for i, s := range steps {
		if got := d.accept(s.node, s.seq, now); got != s.want {
			t.Errorf("step %d: accept(%v, %d) = %v, want %v", i, s.node[0], s.seq, got, s.want)
		}
	}
	later := now.Add(2 * forgetOriginAfter)
	d.accept(b, 3, later)
	if _, ok := d.last[a]; ok {
		t.Error("an origin silent for longer than forgetOriginAfter is still remembered")
	}
}
