package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/fawkes-rt/fawkes/protocol"
)

// Each benchmark has two sub-benchmarks on the same input: "fawkes" (this
// package) and "baseline", the naive way: encoding/json into []any (V2) or
// map[string]any (V1) and back, or for binary frames a bytes.Buffer writer
// and a reader that copies every field. Encoders start from dst=nil, as for
// a fresh frame. Results: docs/BENCHMARKS.md.

// benchCloudEvent is a CloudEvents 1.0 event in JSON format, 300 bytes.
var benchCloudEvent = []byte(`{"specversion":"1.0","type":"com.example.orders.created","source":"/eu-west/orders-api","id":"6f1c2a4e-93b1-4c8e-a7d2-1b5e0c9f3a77","time":"2025-03-14T09:26:53.589Z","datacontenttype":"application/json","subject":"order/81723","data":{"orderId":81723,"customer":"c-4242","total":129.9,"currency":"EUR"}}`)

const (
	benchTopic = "room:orders"
	benchEvent = "order_created"
)

var (
	benchV2Push = []byte(`["3","7","` + benchTopic + `","` + benchEvent + `",` + string(benchCloudEvent) + `]`)
	benchV1Push = []byte(`{"topic":"` + benchTopic + `","event":"` + benchEvent + `","payload":` + string(benchCloudEvent) + `,"ref":"7","join_ref":"3"}`)

	benchReply     = protocol.Message{Kind: protocol.Reply, JoinRef: protocol.StringRef("3"), Ref: protocol.StringRef("7"), Topic: benchTopic, Event: protocol.EventReply, Status: "ok", Payload: benchCloudEvent}
	benchBroadcast = protocol.Message{Kind: protocol.Broadcast, Topic: benchTopic, Event: benchEvent, Payload: benchCloudEvent}
	benchPush      = protocol.Message{Kind: protocol.Push, JoinRef: protocol.StringRef("3"), Topic: benchTopic, Event: benchEvent, Payload: benchCloudEvent}

	// What a naive server holds: the payload decoded into Go values.
	benchEventAny = func() any {
		var v any
		if err := json.Unmarshal(benchCloudEvent, &v); err != nil {
			panic(err)
		}
		return v
	}()

	sinkBytes []byte
	sinkMsg   protocol.Message
	sinkAny   any
)

func TestBenchInputs(t *testing.T) {
	if n := len(benchCloudEvent); n < 280 || n > 320 || !json.Valid(benchCloudEvent) {
		t.Errorf("CloudEvent payload: %d bytes, valid %v", n, json.Valid(benchCloudEvent))
	}
	for _, c := range []struct {
		ser   protocol.Serializer
		frame []byte
	}{{protocol.V2JSON, benchV2Push}, {protocol.V1JSON, benchV1Push}} {
		m, err := c.ser.Decode(c.frame, false)
		if err != nil || !bytes.Equal(m.Payload, benchCloudEvent) {
			t.Errorf("%v: %v", c.ser.Version(), err)
		}
	}
	// The baselines produce the same JSON values as the codec.
	for _, m := range []*protocol.Message{&benchReply, &benchBroadcast} {
		for _, ser := range []protocol.Serializer{protocol.V2JSON, protocol.V1JSON} {
			ours, err := ser.Append(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			theirs := baselineEncode(ser.Version(), m)
			if !jsonEqual(t, ours, theirs) {
				t.Errorf("%v %v: codec %s, baseline %s", ser.Version(), m.Kind, ours, theirs)
			}
		}
	}
	for _, m := range []*protocol.Message{&benchPush, &benchReply, &benchBroadcast} {
		ours, _ := protocol.V2JSON.Append(nil, binaryOf(m))
		if theirs := baselineAppendBinary(binaryOf(m)); !bytes.Equal(ours, theirs) {
			t.Errorf("binary %v: codec %x, baseline %x", m.Kind, ours, theirs)
		}
	}
	frame := appendClientBinary(nil, &protocol.Message{JoinRef: protocol.StringRef("3"), Ref: protocol.StringRef("7"), Topic: benchTopic, Event: benchEvent, Payload: benchCloudEvent})
	ours, err := protocol.V2JSON.Decode(frame, true)
	theirs, err2 := baselineDecodeBinary(frame)
	if err != nil || err2 != nil || ours.Topic != theirs.Topic || ours.Ref.String() != theirs.Ref.String() || !bytes.Equal(ours.Payload, theirs.Payload) {
		t.Errorf("binary decode: %+v %v, baseline %+v %v", ours, err, theirs, err2)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	va, vb := jsonValue(t, a), jsonValue(t, b)
	ea, _ := json.Marshal(va)
	eb, _ := json.Marshal(vb)
	return bytes.Equal(ea, eb)
}

func binaryOf(m *protocol.Message) *protocol.Message {
	c := *m
	c.Binary = true
	return &c
}

func BenchmarkV2Decode(b *testing.B) {
	b.Run("impl=fawkes", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchV2Push)))
		for b.Loop() {
			m, err := protocol.V2JSON.Decode(benchV2Push, false)
			if err != nil {
				b.Fatal(err)
			}
			sinkMsg = m
		}
	})
	b.Run("impl=baseline", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchV2Push)))
		for b.Loop() {
			var v []any
			if err := json.Unmarshal(benchV2Push, &v); err != nil || len(v) < 5 {
				b.Fatal(err)
			}
			sinkAny = v
		}
	})
}

func BenchmarkV1Decode(b *testing.B) {
	b.Run("impl=fawkes", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchV1Push)))
		for b.Loop() {
			m, err := protocol.V1JSON.Decode(benchV1Push, false)
			if err != nil {
				b.Fatal(err)
			}
			sinkMsg = m
		}
	})
	b.Run("impl=baseline", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchV1Push)))
		for b.Loop() {
			var v map[string]any
			if err := json.Unmarshal(benchV1Push, &v); err != nil {
				b.Fatal(err)
			}
			sinkAny = v
		}
	})
}

// baselineValue is the message as a naive server holds it.
func baselineValue(v protocol.Version, m *protocol.Message) any {
	ref := func(r protocol.Ref) any {
		if r.IsNull() {
			return nil
		}
		return r.String()
	}
	event, payload := m.Event, benchEventAny
	if m.Kind == protocol.Reply {
		event, payload = protocol.EventReply, map[string]any{"status": m.Status, "response": benchEventAny}
	}
	if v == protocol.V1 {
		return map[string]any{"topic": m.Topic, "event": event, "payload": payload, "ref": ref(m.Ref)}
	}
	return []any{ref(m.JoinRef), ref(m.Ref), m.Topic, event, payload}
}

func baselineEncode(v protocol.Version, m *protocol.Message) []byte {
	out, err := json.Marshal(baselineValue(v, m))
	if err != nil {
		panic(err)
	}
	return out
}

func benchEncode(b *testing.B, ser protocol.Serializer, m *protocol.Message) {
	b.Run("impl=fawkes", func(b *testing.B) {
		b.ReportAllocs()
		out, _ := ser.Append(nil, m)
		b.SetBytes(int64(len(out)))
		for b.Loop() {
			out, err := ser.Append(nil, m)
			if err != nil {
				b.Fatal(err)
			}
			sinkBytes = out
		}
	})
	b.Run("impl=baseline", func(b *testing.B) {
		b.ReportAllocs()
		v := baselineValue(ser.Version(), m)
		b.SetBytes(int64(len(baselineEncode(ser.Version(), m))))
		for b.Loop() {
			out, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			sinkBytes = out
		}
	})
}

func BenchmarkV2EncodeReply(b *testing.B)     { benchEncode(b, protocol.V2JSON, &benchReply) }
func BenchmarkV2EncodeBroadcast(b *testing.B) { benchEncode(b, protocol.V2JSON, &benchBroadcast) }
func BenchmarkV1EncodeReply(b *testing.B)     { benchEncode(b, protocol.V1JSON, &benchReply) }
func BenchmarkV1EncodeBroadcast(b *testing.B) { benchEncode(b, protocol.V1JSON, &benchBroadcast) }

// baselineAppendBinary is a straightforward bytes.Buffer encoder of the
// server binary layouts.
func baselineAppendBinary(m *protocol.Message) []byte {
	var fields []string
	var buf bytes.Buffer
	switch m.Kind {
	case protocol.Push:
		buf.WriteByte(0)
		fields = []string{m.JoinRef.String(), m.Topic, m.Event}
	case protocol.Reply:
		buf.WriteByte(1)
		fields = []string{m.JoinRef.String(), m.Ref.String(), m.Topic, m.Status}
	case protocol.Broadcast:
		buf.WriteByte(2)
		fields = []string{m.Topic, m.Event}
	}
	for _, f := range fields {
		buf.WriteByte(byte(len(f)))
	}
	for _, f := range fields {
		buf.WriteString(f)
	}
	buf.Write(m.Payload)
	return buf.Bytes()
}

// baselineDecodeBinary reads a client push with a bytes.Reader, copying
// each field and the payload.
func baselineDecodeBinary(frame []byte) (protocol.Message, error) {
	r := bytes.NewReader(frame)
	var hdr [5]byte
	if _, err := r.Read(hdr[:]); err != nil || hdr[0] != 0 {
		return protocol.Message{}, errors.New("bad header")
	}
	var fields [4]string
	for k := range fields {
		f := make([]byte, hdr[1+k])
		if n, _ := r.Read(f); n != len(f) {
			return protocol.Message{}, errors.New("short")
		}
		fields[k] = string(f)
	}
	payload := make([]byte, r.Len())
	r.Read(payload)
	return protocol.Message{JoinRef: protocol.StringRef(fields[0]), Ref: protocol.StringRef(fields[1]), Topic: fields[2], Event: fields[3], Payload: payload, Binary: true}, nil
}

func benchBinaryEncode(b *testing.B, m *protocol.Message) {
	m = binaryOf(m)
	b.Run("impl=fawkes", func(b *testing.B) {
		b.ReportAllocs()
		out, _ := protocol.V2JSON.Append(nil, m)
		b.SetBytes(int64(len(out)))
		for b.Loop() {
			out, err := protocol.V2JSON.Append(nil, m)
			if err != nil {
				b.Fatal(err)
			}
			sinkBytes = out
		}
	})
	b.Run("impl=baseline", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(baselineAppendBinary(m))))
		for b.Loop() {
			sinkBytes = baselineAppendBinary(m)
		}
	})
}

func BenchmarkBinaryEncodePush(b *testing.B)      { benchBinaryEncode(b, &benchPush) }
func BenchmarkBinaryEncodeReply(b *testing.B)     { benchBinaryEncode(b, &benchReply) }
func BenchmarkBinaryEncodeBroadcast(b *testing.B) { benchBinaryEncode(b, &benchBroadcast) }

func BenchmarkBinaryDecode(b *testing.B) {
	frame := appendClientBinary(nil, &protocol.Message{JoinRef: protocol.StringRef("3"), Ref: protocol.StringRef("7"), Topic: benchTopic, Event: benchEvent, Payload: benchCloudEvent})
	b.Run("impl=fawkes", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			m, err := protocol.V2JSON.Decode(frame, true)
			if err != nil {
				b.Fatal(err)
			}
			sinkMsg = m
		}
	})
	b.Run("impl=baseline", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			m, err := baselineDecodeBinary(frame)
			if err != nil {
				b.Fatal(err)
			}
			sinkMsg = m
		}
	})
}
