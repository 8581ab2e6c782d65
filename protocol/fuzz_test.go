package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/fawkes-rt/fawkes/protocol"
)

// The fuzz targets check each decoder against three things: it never
// panics or changes its input; it accepts exactly what encoding/json (or,
// for binary, the spec's layout) says is a well-formed message, with the
// same fields; and encoding what it decoded, then decoding again, gives the
// same fields. Seeds are the golden frames; crashers found are kept in
// testdata/fuzz/<target>.

// pieces returns data, then its prefixes and suffixes at up to four cuts
// derived from the data, the way nats-server's parser fuzz feeds a parser
// in chunks. A codec sees whole WebSocket messages, so each piece is
// decoded on its own: a frame cut anywhere must fail cleanly or still obey
// every check. Each piece is a copy with no spare capacity.
func pieces(data []byte) [][]byte {
	out := [][]byte{bytes.Clone(data)}
	if len(data) < 2 {
		return out
	}
	n := 1 + int(data[len(data)-1])%4
	step := len(data) / (n + 1)
	for k := 1; k <= n && step > 0; k++ {
		cut := k * step
		out = append(out, bytes.Clone(data[:cut]), bytes.Clone(data[cut:]))
	}
	return out
}

// decodeChecked decodes data and checks what holds for every decoder: no
// change to the input, and a *protocol.Error with a message on failure.
func decodeChecked(t *testing.T, ser protocol.Serializer, data []byte, binary bool) (protocol.Message, *protocol.Error) {
	t.Helper()
	orig := bytes.Clone(data)
	m, err := ser.Decode(data, binary)
	if !bytes.Equal(orig, data) {
		t.Fatalf("Decode changed its input")
	}
	if err == nil {
		return m, nil
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) || len(pe.Error()) <= len("protocol: ") || pe.Code == 0 {
		t.Fatalf("error %T %q is not a *protocol.Error that says what is wrong", err, err)
	}
	return m, pe
}

// stdString decodes a JSON string token with encoding/json.
func stdString(tok []byte) (string, bool) {
	var s string
	return s, len(tok) > 0 && tok[0] == '"' && json.Unmarshal(tok, &s) == nil
}

// exempt reports errors encoding/json has no counterpart for: it accepts
// invalid UTF-8 and nests 10 times deeper.
func exempt(data []byte, err *protocol.Error) bool {
	return !utf8.Valid(data) || err != nil && errors.Is(err, protocol.ErrTooDeep)
}

// roundTrip encodes the decoded message as a server push with the same
// refs with each JSON serializer and checks that decoding gives it back.
func roundTrip(t *testing.T, m protocol.Message) {
	t.Helper()
	if len(m.Payload) == 0 || m.Payload[0] != '{' {
		return // servers send only objects
	}
	// A JSON payload is the value token: whitespace around it (which a binary
	// payload may carry) is not part of it after a JSON round trip.
	payload := bytes.Trim(m.Payload, " \t\r\n")
	push := protocol.Message{Kind: protocol.Push, JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: m.Event, Payload: payload}
	for _, ser := range []protocol.Serializer{protocol.V2JSON, protocol.V1JSON} {
		frame, err := ser.Append(nil, &push)
		if err != nil {
			t.Fatalf("%v Append: %v", ser.Version(), err)
		}
		if !json.Valid(frame) {
			t.Fatalf("%v Append gave invalid JSON: %q", ser.Version(), frame)
		}
		got, err := ser.Decode(frame, false)
		if err != nil {
			t.Fatalf("%v decoding %q: %v", ser.Version(), frame, err)
		}
		wantJoin := m.JoinRef.JSON()
		if ser.Version() == protocol.V1 {
			wantJoin = "null" // V1 never sends join_ref
		}
		if got.JoinRef.JSON() != wantJoin || got.Ref.JSON() != m.Ref.JSON() || got.Topic != m.Topic || got.Event != m.Event || !bytes.Equal(got.Payload, payload) {
			t.Fatalf("%v round trip of %q:\n got %s %s %q %q %s\nwant %s %s %q %q %s", ser.Version(), frame,
				got.JoinRef.JSON(), got.Ref.JSON(), got.Topic, got.Event, got.Payload,
				wantJoin, m.Ref.JSON(), m.Topic, m.Event, payload)
		}
		if !got.JoinRef.Equal(push.JoinRef) && ser.Version() == protocol.V2 || !got.Ref.Equal(m.Ref) {
			t.Fatalf("%v round trip: refs not Equal", ser.Version())
		}
	}
}

func addGoldenSeeds(f *testing.F, file string, binary bool) {
	for _, fr := range loadGolden(f, file) {
		f.Add(fr.wire(f, binary))
	}
}

func FuzzV2JSONDecode(f *testing.F) {
	addGoldenSeeds(f, "v2_json.json", false)
	for _, s := range []string{
		`[1,-2.5e3,"t","e",{}]`, `["a\"b","\u0031","t\ud83d\ude00","e",{}]`, `[null,null,"t","e",{},1,[2]]`,
		`[null,null,"t","e"]`, `[null,null,1,"e",{}]`, `[[[[]]],null,"t","e",{"a":[{"b":null}]}] `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range pieces(data) {
			checkV2JSON(t, p)
		}
	})
}

func checkV2JSON(t *testing.T, data []byte) {
	m, err := decodeChecked(t, protocol.V2JSON, data, false)
	var elems []json.RawMessage
	stdOK := json.Unmarshal(data, &elems) == nil && len(elems) >= 5
	var topic, event string
	if stdOK {
		var ok1, ok2 bool
		topic, ok1 = stdString(elems[2])
		event, ok2 = stdString(elems[3])
		stdOK = ok1 && ok2
	}
	if err == nil && !json.Valid(data) {
		t.Fatalf("accepted invalid JSON %q", data)
	}
	if err == nil && !stdOK {
		t.Fatalf("accepted %q, which is not a 5-element array with string topic and event", data)
	}
	if err != nil {
		if stdOK && !exempt(data, err) {
			t.Fatalf("refused %q: %v", data, err)
		}
		return
	}
	if m.Kind != protocol.Push || m.Binary {
		t.Fatalf("decoded Kind %v Binary %v", m.Kind, m.Binary)
	}
	if m.JoinRef.JSON() != string(elems[0]) || m.Ref.JSON() != string(elems[1]) || m.Topic != topic || m.Event != event || !bytes.Equal(m.Payload, elems[4]) {
		t.Fatalf("decoded %q as %s %s %q %q %s; encoding/json says %s %s %q %q %s", data,
			m.JoinRef.JSON(), m.Ref.JSON(), m.Topic, m.Event, m.Payload, elems[0], elems[1], topic, event, elems[4])
	}
	checkRefString(t, m.JoinRef)
	checkRefString(t, m.Ref)
	roundTrip(t, m)
}

// checkRefString checks that a string ref's String is its value as
// encoding/json reads it.
func checkRefString(t *testing.T, r protocol.Ref) {
	if s, ok := stdString([]byte(r.JSON())); ok && s != r.String() {
		t.Fatalf("ref %s: String() = %q, want %q", r.JSON(), r.String(), s)
	}
}

func FuzzV1JSONDecode(f *testing.F) {
	addGoldenSeeds(f, "v1_json.json", false)
	for _, s := range []string{
		`{"topic":"t","event":"e","payload":{},"ref":7,"join_ref":"\u0031"}`,
		`{"t\u006fpic":"a","topic":1,"event":"e","payload":[],"ref":null,"x":{"y":[]}}`,
		`{"topic":"t","event":"e","payload":{}}`, `["1","1","t","e",{}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range pieces(data) {
			checkV1JSON(t, p)
		}
	})
}

func checkV1JSON(t *testing.T, data []byte) {
	m, err := decodeChecked(t, protocol.V1JSON, data, false)
	var obj map[string]json.RawMessage
	stdOK := json.Unmarshal(data, &obj) == nil && obj != nil
	var topic, event string
	if stdOK {
		var ok1, ok2 bool
		topic, ok1 = stdString(obj["topic"])
		event, ok2 = stdString(obj["event"])
		_, ok3 := obj["payload"]
		_, ok4 := obj["ref"]
		stdOK = ok1 && ok2 && ok3 && ok4
	}
	if err == nil && !json.Valid(data) {
		t.Fatalf("accepted invalid JSON %q", data)
	}
	if err == nil && !stdOK {
		t.Fatalf("accepted %q, which lacks a key or a string topic/event", data)
	}
	if err != nil {
		if stdOK && !exempt(data, err) {
			t.Fatalf("refused %q: %v", data, err)
		}
		return
	}
	wantJoin := "null"
	if j, ok := obj["join_ref"]; ok {
		wantJoin = string(j)
	}
	if m.JoinRef.JSON() != wantJoin || m.Ref.JSON() != string(obj["ref"]) || m.Topic != topic || m.Event != event || !bytes.Equal(m.Payload, obj["payload"]) {
		t.Fatalf("decoded %q as %s %s %q %q %s; encoding/json says %s %s %q %q %s", data,
			m.JoinRef.JSON(), m.Ref.JSON(), m.Topic, m.Event, m.Payload, wantJoin, obj["ref"], topic, event, obj["payload"])
	}
	checkRefString(t, m.JoinRef)
	checkRefString(t, m.Ref)
	roundTrip(t, m)
}

func FuzzBinaryDecode(f *testing.F) {
	addGoldenSeeds(f, "v2_binary.json", true)
	for _, s := range []string{"", "\x00", "\x00\x00\x00\x00\x00", "\x01\x00\x00\x00\x00", "\x00\xff\xff\xff\xff", "\x00\x00\x00\x01\x01te{\"a\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range pieces(data) {
			checkBinary(t, p)
		}
	})
}

func checkBinary(t *testing.T, data []byte) {
	m, err := decodeChecked(t, protocol.V2JSON, data, true)
	// The layout of docs/protocol.md §3.3, read independently.
	specOK := len(data) >= 5 && data[0] == 0 && len(data) >= 5+int(data[1])+int(data[2])+int(data[3])+int(data[4])
	if (err == nil) != specOK {
		t.Fatalf("Decode(%x): err %v, but the layout says ok=%v", data, err, specOK)
	}
	if err != nil {
		switch {
		case len(data) > 0 && data[0] != 0:
			if !errors.Is(err, protocol.ErrUnknownKind) {
				t.Fatalf("kind %d: %v", data[0], err)
			}
		case !errors.Is(err, protocol.ErrTruncated):
			t.Fatalf("short frame %x: %v", data, err)
		}
		return
	}
	if m.Kind != protocol.Push || !m.Binary {
		t.Fatalf("decoded Kind %v Binary %v", m.Kind, m.Binary)
	}
	// The frame is exactly its fields in the client layout.
	if enc := appendClientBinary(nil, &m); !bytes.Equal(enc, data) {
		t.Fatalf("fields re-encode to %x, frame is %x", enc, data)
	}
	// Encode as each server kind and read back as a client does.
	for _, kind := range []protocol.Kind{protocol.Push, protocol.Reply, protocol.Broadcast} {
		out := protocol.Message{Kind: kind, JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: m.Event, Status: m.Event, Payload: m.Payload, Binary: true}
		frame, err := protocol.V2JSON.Append(nil, &out)
		if err != nil {
			t.Fatalf("Append %v: %v", kind, err)
		}
		got, err := decodeServerBinary(frame)
		if err != nil {
			t.Fatalf("reading back %v frame %x: %v", kind, frame, err)
		}
		want := out
		switch kind {
		case protocol.Push:
			want.Ref, want.Status = protocol.Ref{}, ""
		case protocol.Reply:
			want.Event = protocol.EventReply
		case protocol.Broadcast:
			want.JoinRef, want.Ref, want.Status = protocol.Ref{}, protocol.Ref{}, ""
		}
		if got.Kind != want.Kind || got.JoinRef.String() != want.JoinRef.String() || got.Ref.String() != want.Ref.String() ||
			got.Topic != want.Topic || got.Event != want.Event || got.Status != want.Status || !bytes.Equal(got.Payload, want.Payload) {
			t.Fatalf("%v frame %x read back as %+v, want %+v", kind, frame, got, want)
		}
	}
	// A payload that would pass as a V2 JSON payload, with UTF-8 fields,
	// also survives the JSON round trip.
	probe := append(append([]byte(`[null,null,"","",`), m.Payload...), ']')
	if _, err := protocol.V2JSON.Decode(probe, false); err == nil && utf8.ValidString(m.JoinRef.String()+m.Ref.String()+m.Topic+m.Event) {
		jm := m
		jm.Binary = false
		roundTrip(t, jm)
	}
}
