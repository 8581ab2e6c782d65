package clusterwire_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/clusterwire"
)

func withHeader(b *pubsub.Broadcast, h ...pubsub.HeaderField) *pubsub.Broadcast {
	b.Header = h
	return b
}

func TestBroadcastEnvelopeRoundTrip(t *testing.T) {
	node := clusterwire.NodeID{1, 2, 3}
	for i, b := range []*pubsub.Broadcast{
		pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(`{"a":1}`)),
		pubsub.NewBroadcast("", "", nil),
		{Topic: "t", Event: "bin", Payload: []byte{0, 255}, Binary: true},
		withHeader(pubsub.NewBroadcast("room:1", "new_msg", []byte(`{}`)),
			pubsub.HeaderField{Key: "tenant", Value: "acme"}, pubsub.HeaderField{Key: "", Value: ""},
			pubsub.HeaderField{Key: "tenant", Value: "second"}, pubsub.HeaderField{Key: "é\x00", Value: string(make([]byte, 300))}),
		withHeader(&pubsub.Broadcast{Topic: "t", Event: "bin", Payload: []byte{1}, Binary: true}, pubsub.HeaderField{Key: "k", Value: "v"}),
	} {
		seq := uint64(i*1000 + 1)
		data := clusterwire.AppendBroadcast(nil, node, seq, b)
		e, err := clusterwire.DecodeEnvelope(data)
		if err != nil || e.Kind != clusterwire.KindBroadcast || e.Node != node || e.Seq != seq {
			t.Fatalf("envelope of %+v: %+v, %v", b, e, err)
		}
		wantVersion := byte(clusterwire.Version2)
		if len(b.Header) > 0 {
			wantVersion = clusterwire.Version3
		}
		if e.Version != wantVersion {
			t.Errorf("broadcast %d went out as version %d, want %d", i, e.Version, wantVersion)
		}
		got, err := e.Broadcast()
		if err != nil || !sameBroadcast(got, b) {
			t.Errorf("round trip of %+v: got %+v, %v", b, got, err)
		}
	}
}

func sameBroadcast(a, b *pubsub.Broadcast) bool {
	return a.Topic == b.Topic && a.Event == b.Event && a.Binary == b.Binary &&
		bytes.Equal(a.Payload, b.Payload) && slices.Equal(a.Header, b.Header)
}

// A broadcast without a header is the very bytes of version 2, which
// nodes that predate headers read; one with a header is version 3, which
// they refuse rather than misread.
func TestBroadcastWithoutHeaderIsVersion2Bytes(t *testing.T) {
	node := clusterwire.NodeID{7}
	b := pubsub.NewBroadcast("room:1", "e", []byte(`{"x":1}`))
	want := []byte{2, 'b'}
	want = append(want, node[:]...)
	want = append(want, 5, 0, 6)
	want = append(want, "room:1"...)
	want = append(want, 1, 'e')
	want = append(want, `{"x":1}`...)
	if got := clusterwire.AppendBroadcast(nil, node, 5, b); !bytes.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	b.Header = pubsub.Header{{Key: "k", Value: "v"}}
	if got := clusterwire.AppendBroadcast(nil, node, 5, b); got[0] != 3 || got[2+16+1] != 2 {
		t.Fatalf("with a header: version %d flags %d, want 3 and 2", got[0], got[2+16+1])
	}
}

// rawBroadcast builds a broadcast envelope by hand, with flags and the bytes
// between event and payload given.
func rawBroadcast(version, flags byte, between ...byte) []byte {
	b := []byte{version, 'b'}
	b = append(b, make([]byte, 16)...)
	b = append(b, 1, flags, 1, 't', 1, 'e')
	b = append(b, between...)
	return append(b, "{}"...)
}

func TestMalformedBroadcasts(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<40)
	for name, data := range map[string][]byte{
		"version 1":                        rawBroadcast(1, 0),
		"version 4":                        rawBroadcast(4, 0),
		"header flag in version 2":         rawBroadcast(2, 2, 0),
		"unknown flag":                     rawBroadcast(3, 4),
		"header count beyond the bytes":    rawBroadcast(3, 2, 200),
		"header count of 2^40":             rawBroadcast(3, 2, huge...),
		"header count without its varint":  rawBroadcast(3, 2, 0x80)[:2+16+1+1+2+2+1],
		"key longer than the rest":         rawBroadcast(3, 2, 1, 50, 'k'),
		"value missing":                    append(rawBroadcast(3, 2, 1, 1, 'k')[:2+16+1+1+2+2+3], 9),
		"key length overflowing a varint":  rawBroadcast(3, 2, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1),
		"empty body":                       rawBroadcast(2, 0)[:2+16+1],
		"topic longer than the rest":       append(rawBroadcast(2, 0)[:2+16+2], 9, 't'),
		"header cut before its last value": rawBroadcast(3, 2, 2, 1, 'a', 1, 'b', 1, 'c'),
	} {
		e, err := clusterwire.DecodeEnvelope(data)
		if err != nil {
			if name != "version 1" && name != "version 4" {
				t.Errorf("%s: envelope refused: %v", name, err)
			}
			continue
		}
		if b, err := e.Broadcast(); err == nil {
			t.Errorf("%s: decoded as %+v (header %q)", name, b, b.Header)
		}
	}
}

func TestHeaderDecodedOnceForAllFilters(t *testing.T) {
	b := withHeader(pubsub.NewBroadcast("t", "e", []byte(`{}`)), pubsub.HeaderField{Key: "tenant", Value: "acme"}, pubsub.HeaderField{Key: "kind", Value: "x"})
	e, err := clusterwire.DecodeEnvelope(clusterwire.AppendBroadcast(nil, clusterwire.NodeID{1}, 1, b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Broadcast()
	if err != nil {
		t.Fatal(err)
	}
	var v string
	if n := testing.AllocsPerRun(100, func() { v = got.Header.Get("kind") }); n != 0 || v != "x" {
		t.Errorf("Header.Get: %v allocations, value %q; want 0 and x", n, v)
	}
	if _, ok := got.Header.Lookup("missing"); ok {
		t.Error("Lookup found a key that is not there")
	}
}

func TestRequestAndReplyEnvelopes(t *testing.T) {
	node := clusterwire.NodeID{9}
	e, err := clusterwire.DecodeEnvelope(clusterwire.AppendRequest(nil, node, clusterwire.Request{ID: 7, Wait: 1500 * time.Millisecond, Handler: "longpoll.get", Body: []byte("abc")}))
	if err != nil || e.Kind != clusterwire.KindRequest || e.Node != node || e.Seq != 0 {
		t.Fatalf("request envelope %+v, %v", e, err)
	}
	r, err := e.Request()
	if err != nil || r.ID != 7 || r.Wait != 1500*time.Millisecond || r.Handler != "longpoll.get" || string(r.Body) != "abc" {
		t.Fatalf("request %+v, %v", r, err)
	}
	if _, err := e.Reply(); err == nil {
		t.Error("a request decoded as a reply")
	}
	e, _ = clusterwire.DecodeEnvelope(clusterwire.AppendRequest(nil, node, clusterwire.Request{ID: 8, Wait: time.Microsecond}))
	if r, _ := e.Request(); r.Wait != time.Millisecond {
		t.Errorf("a wait under 1 ms went as %v; want 1ms (0 would mean no deadline)", r.Wait)
	}
	e, err = clusterwire.DecodeEnvelope(clusterwire.AppendReply(nil, node, clusterwire.Reply{ID: 7, Status: clusterwire.ReplyNoHandler, Body: []byte("x")}))
	if err != nil || e.Kind != clusterwire.KindReply {
		t.Fatalf("reply envelope %+v, %v", e, err)
	}
	rep, err := e.Reply()
	if err != nil || rep.ID != 7 || rep.Status != clusterwire.ReplyNoHandler || string(rep.Body) != "x" {
		t.Fatalf("reply %+v %v", rep, err)
	}
}

func TestNodeIDString(t *testing.T) {
	n := clusterwire.NodeID{0xff, 0xfe, 1}
	s := n.String()
	if len(s) != 22 {
		t.Fatalf("node id %q: want 22 characters", s)
	}
	if back, ok := clusterwire.ParseNodeID(s); !ok || back != n {
		t.Fatalf("parse %q = %v, %v", s, back, ok)
	}
	for _, bad := range []string{"", "short", s + "A", "!!!!!!!!!!!!!!!!!!!!!!", s[:21] + "B"} {
		if _, ok := clusterwire.ParseNodeID(bad); ok {
			t.Errorf("ParseNodeID(%q) accepted", bad)
		}
	}
	if a, b := clusterwire.NewNodeID(), clusterwire.NewNodeID(); a == b || a == (clusterwire.NodeID{}) {
		t.Errorf("NewNodeID gave %v and %v", a, b)
	}
}

// FuzzDecodeEnvelope feeds arbitrary bytes to every decoder: none may
// panic, and a broadcast that decodes encodes back to the same fields.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(clusterwire.AppendBroadcast(nil, clusterwire.NodeID{}, 1, pubsub.NewBroadcast("t", "e", []byte(`{}`))))
	f.Add(clusterwire.AppendBroadcast(nil, clusterwire.NodeID{}, 1, withHeader(pubsub.NewBroadcast("t", "e", []byte(`{}`)),
		pubsub.HeaderField{Key: "a", Value: "b"}, pubsub.HeaderField{Key: "", Value: "c"})))
	f.Add(clusterwire.AppendRequest(nil, clusterwire.NodeID{}, clusterwire.Request{ID: 1, Handler: "k"}))
	f.Add(clusterwire.AppendReply(nil, clusterwire.NodeID{}, clusterwire.Reply{ID: 1}))
	f.Add([]byte{2})
	// Malformed header fields: a count beyond the bytes, a key longer
	// than the rest, a varint that does not end, the flag in version 2.
	f.Add(rawBroadcast(3, 2, 200))
	f.Add(rawBroadcast(3, 2, 1, 50, 'k'))
	f.Add(rawBroadcast(3, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	f.Add(rawBroadcast(2, 2, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := clusterwire.DecodeEnvelope(data)
		if err != nil {
			return
		}
		_, _ = e.Request()
		_, _ = e.Reply()
		b, err := e.Broadcast()
		if err != nil {
			return
		}
		e2, err := clusterwire.DecodeEnvelope(clusterwire.AppendBroadcast(nil, e.Node, e.Seq, b))
		if err != nil {
			t.Fatal(err)
		}
		b2, err := e2.Broadcast()
		if err != nil || e2.Node != e.Node || e2.Seq != e.Seq || !sameBroadcast(b2, b) {
			t.Fatalf("unstable round trip: %+v then %+v (%v)", b, b2, err)
		}
	})
}
