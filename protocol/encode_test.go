package protocol_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fawkes-rt/fawkes/protocol"
)

func TestAppendJSON(t *testing.T) {
	str, raw := protocol.StringRef, protocol.RawRef
	for _, c := range []struct {
		name   string
		m      protocol.Message
		v2, v1 string
	}{
		{
			name: "push",
			m:    protocol.Message{Kind: protocol.Push, JoinRef: str("1"), Topic: "room:lobby", Event: "joined", Payload: []byte(`{"a":1}`)},
			v2:   `["1",null,"room:lobby","joined",{"a":1}]`,
			v1:   `{"event":"joined","payload":{"a":1},"ref":null,"topic":"room:lobby"}`,
		},
		{
			name: "reply",
			m:    protocol.Message{Kind: protocol.Reply, JoinRef: str("3"), Ref: str("4"), Topic: "t", Event: "ignored", Status: "error", Payload: []byte(`{"reason":"x"}`)},
			v2:   `["3","4","t","phx_reply",{"response":{"reason":"x"},"status":"error"}]`,
			v1:   `{"event":"phx_reply","payload":{"response":{"reason":"x"},"status":"error"},"ref":"4","topic":"t"}`,
		},
		{
			name: "reply with nil response",
			m:    protocol.Message{Kind: protocol.Reply, Ref: str("5"), Topic: "phoenix", Status: "ok"},
			v2:   `[null,"5","phoenix","phx_reply",{"response":{},"status":"ok"}]`,
			v1:   `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":"5","topic":"phoenix"}`,
		},
		{
			name: "broadcast",
			m:    protocol.Message{Kind: protocol.Broadcast, Topic: "room:lobby", Event: "new_msg", Payload: []byte(`{"body":"hi!"}`)},
			v2:   `[null,null,"room:lobby","new_msg",{"body":"hi!"}]`,
			v1:   `{"event":"new_msg","payload":{"body":"hi!"},"ref":null,"topic":"room:lobby"}`,
		},
		{
			name: "nil payload is {}",
			m:    protocol.Message{Topic: "t", Event: "e"},
			v2:   `[null,null,"t","e",{}]`,
			v1:   `{"event":"e","payload":{},"ref":null,"topic":"t"}`,
		},
		{
			name: "numeric refs echo as numbers",
			m:    protocol.Message{Kind: protocol.Reply, JoinRef: raw("1"), Ref: raw("2"), Topic: "t", Status: "ok", Payload: []byte(`{}`)},
			v2:   `[1,2,"t","phx_reply",{"response":{},"status":"ok"}]`,
			v1:   `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":2,"topic":"t"}`,
		},
		{
			name: "escaped refs echo verbatim",
			m:    protocol.Message{JoinRef: raw(`"\u0031"`), Ref: raw(`"a\/b"`), Topic: "t", Event: "e"},
			v2:   `["\u0031","a\/b","t","e",{}]`,
			v1:   `{"event":"e","payload":{},"ref":"a\/b","topic":"t"}`,
		},
		{
			name: "strings escaped",
			m:    protocol.Message{JoinRef: str("a\"b"), Topic: "t\\\n\t\r\x01é", Event: "bad\xffutf8", Status: "x"},
			v2:   `["a\"b",null,"t\\\n\t\r\u0001é","bad\ufffdutf8",{}]`,
			v1:   `{"event":"bad\ufffdutf8","payload":{},"ref":null,"topic":"t\\\n\t\r\u0001é"}`,
		},
		{
			name: "payload bytes kept as given",
			m:    protocol.Message{Topic: "t", Event: "e", Payload: []byte(" {\n\"z\" : 1, \"a\":[ ]}")},
			v2:   "[null,null,\"t\",\"e\", {\n\"z\" : 1, \"a\":[ ]}]",
			v1:   "{\"event\":\"e\",\"payload\": {\n\"z\" : 1, \"a\":[ ]},\"ref\":null,\"topic\":\"t\"}",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range []struct {
				ser  protocol.Serializer
				want string
			}{{protocol.V2JSON, c.v2}, {protocol.V1JSON, c.v1}} {
				got, err := s.ser.Append(nil, &c.m)
				if err != nil {
					t.Fatalf("%v: %v", s.ser.Version(), err)
				}
				if string(got) != s.want {
					t.Errorf("%v:\n got %s\nwant %s", s.ser.Version(), got, s.want)
				}
				if !json.Valid(got) {
					t.Errorf("%v: not valid JSON: %s", s.ser.Version(), got)
				}
				if strings.Contains(string(got), "join_ref") {
					t.Errorf("%v: emits join_ref", s.ser.Version())
				}
				// The frame is sized exactly: one allocation, no spare.
				if len(got) != cap(got) {
					t.Errorf("%v: len %d cap %d", s.ser.Version(), len(got), cap(got))
				}
				// Appending keeps what dst holds and fits into its spare room.
				dst := make([]byte, 3, 3+len(got))
				copy(dst, "abc")
				got2, err := s.ser.Append(dst, &c.m)
				if err != nil || string(got2) != "abc"+s.want || &got2[0] != &dst[0] {
					t.Errorf("%v: Append into spare room: %q, %v", s.ser.Version(), got2, err)
				}
			}
		})
	}
}

func TestAppendJSONErrors(t *testing.T) {
	for _, p := range []string{`[]`, `"s"`, `1`, `null`, `true`, "  ", " [{}]"} {
		for _, kind := range []protocol.Kind{protocol.Push, protocol.Reply, protocol.Broadcast} {
			for _, ser := range []protocol.Serializer{protocol.V2JSON, protocol.V1JSON} {
				m := protocol.Message{Kind: kind, Topic: "t", Event: "e", Payload: []byte(p)}
				dst := []byte("keep")
				out, err := ser.Append(dst, &m)
				checkErr(t, err, protocol.ErrPayloadNotObject, "payload is not a JSON object")
				if string(out) != "keep" {
					t.Errorf("%v %v %q: dst changed to %q", ser.Version(), kind, p, out)
				}
			}
		}
	}
	// V1 has no binary frames.
	_, err := protocol.V1JSON.Append(nil, &protocol.Message{Binary: true, Payload: []byte{1}})
	checkErr(t, err, protocol.ErrBinaryUnsupported, "V1 has no binary frames")
}

func TestAppendBinary(t *testing.T) {
	long := strings.Repeat("x", 255)
	for _, c := range []struct {
		name string
		m    protocol.Message
		want string
	}{
		{"push", protocol.Message{Kind: protocol.Push, JoinRef: protocol.StringRef("12"), Ref: protocol.StringRef("999"), Topic: "topic", Event: "event", Payload: []byte("efg"), Binary: true},
			"\x00\x02\x05\x0512topiceventefg"},
		{"push null join_ref", protocol.Message{Kind: protocol.Push, Topic: "t", Event: "e", Binary: true},
			"\x00\x00\x01\x01te"},
		{"reply", protocol.Message{Kind: protocol.Reply, JoinRef: protocol.StringRef("12"), Ref: protocol.StringRef("123"), Topic: "topic", Event: "ignored", Status: "ok", Payload: []byte("efg"), Binary: true},
			"\x01\x02\x03\x05\x0212123topicokefg"},
		{"reply numeric refs as digits", protocol.Message{Kind: protocol.Reply, JoinRef: protocol.RawRef("7"), Ref: protocol.RawRef(`"\u0038"`), Topic: "t", Status: "ok", Binary: true},
			"\x01\x01\x01\x01\x0278tok"},
		{"broadcast drops refs", protocol.Message{Kind: protocol.Broadcast, JoinRef: protocol.StringRef("1"), Ref: protocol.StringRef("2"), Topic: "topic", Event: "event", Payload: []byte("efg"), Binary: true},
			"\x02\x05\x05topiceventefg"},
		{"payload any bytes", protocol.Message{Kind: protocol.Broadcast, Topic: "t", Event: "e", Payload: []byte{0, 0xff, '['}, Binary: true},
			"\x02\x01\x01te\x00\xff["},
		{"255-byte fields", protocol.Message{Kind: protocol.Reply, JoinRef: protocol.StringRef(long), Ref: protocol.StringRef(long), Topic: long, Status: long, Binary: true},
			"\x01\xff\xff\xff\xff" + long + long + long + long},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := protocol.V2JSON.Append(nil, &c.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("\n got %x\nwant %x", got, c.want)
			}
			if len(got) != cap(got) {
				t.Errorf("len %d cap %d", len(got), cap(got))
			}
		})
	}
}

func TestAppendBinaryErrors(t *testing.T) {
	long := strings.Repeat("é", 128) // 256 bytes
	ok := protocol.StringRef("1")
	for _, c := range []struct {
		name string
		m    protocol.Message
		want error
		text string
	}{
		{"push join_ref", protocol.Message{Kind: protocol.Push, JoinRef: protocol.StringRef(long), Topic: "t", Event: "e"}, protocol.ErrFieldTooLong, "longer than 255 bytes: 256 bytes"},
		{"push topic", protocol.Message{Kind: protocol.Push, JoinRef: ok, Topic: long, Event: "e"}, protocol.ErrFieldTooLong, "256 bytes"},
		{"push event", protocol.Message{Kind: protocol.Push, Topic: "t", Event: long + "x"}, protocol.ErrFieldTooLong, "257 bytes"},
		{"reply ref", protocol.Message{Kind: protocol.Reply, JoinRef: ok, Ref: protocol.RawRef(`"` + long + `"`), Topic: "t", Status: "ok"}, protocol.ErrFieldTooLong, "256 bytes"},
		{"reply status", protocol.Message{Kind: protocol.Reply, JoinRef: ok, Ref: ok, Topic: "t", Status: long}, protocol.ErrFieldTooLong, "256 bytes"},
		{"broadcast topic", protocol.Message{Kind: protocol.Broadcast, Topic: long, Event: "e"}, protocol.ErrFieldTooLong, "256 bytes"},
		{"broadcast event", protocol.Message{Kind: protocol.Broadcast, Topic: "t", Event: long}, protocol.ErrFieldTooLong, "256 bytes"},
		{"unknown kind", protocol.Message{Kind: protocol.Kind(9), Topic: "t", Event: "e"}, protocol.ErrUnknownKind, "unknown binary message kind: unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.m.Binary = true
			c.m.Payload = []byte("p")
			out, err := protocol.V2JSON.Append([]byte("keep"), &c.m)
			checkErr(t, err, c.want, c.text)
			if string(out) != "keep" {
				t.Errorf("dst changed to %q", out)
			}
		})
	}
	// Fields a kind does not carry are not checked.
	m := protocol.Message{Kind: protocol.Broadcast, JoinRef: protocol.StringRef(long), Ref: protocol.StringRef(long), Status: long, Topic: "t", Event: "e", Binary: true}
	if _, err := protocol.V2JSON.Append(nil, &m); err != nil {
		t.Errorf("broadcast with long refs: %v", err)
	}
}

func TestEncodeDecodeV2(t *testing.T) {
	// A push a server sends decodes, with the V2 decoder, to the same fields.
	m := protocol.Message{JoinRef: protocol.RawRef("17"), Ref: protocol.StringRef("x\"y"), Topic: "room:\u2028é", Event: "ev\x00", Payload: []byte(`{"k":[1,2,{"n":null}]}`)}
	frame, err := protocol.V2JSON.Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := protocol.V2JSON.Decode(frame, false)
	if err != nil {
		t.Fatal(err)
	}
	if !got.JoinRef.Equal(m.JoinRef) || !got.Ref.Equal(m.Ref) || got.Topic != m.Topic || got.Event != m.Event || !bytes.Equal(got.Payload, m.Payload) {
		t.Errorf("round trip: got %+v, want %+v", got, m)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[protocol.Kind]string{protocol.Push: "push", protocol.Reply: "reply", protocol.Broadcast: "broadcast", 3: "unknown"} {
		if k.String() != want {
			t.Errorf("Kind(%d).String() = %q", k, k.String())
		}
	}
}

func TestErrorText(t *testing.T) {
	e := &protocol.Error{Code: protocol.CodeTruncated, Detail: "x"}
	if e.Error() != "protocol: truncated binary frame: x" {
		t.Errorf("%q", e.Error())
	}
	if (&protocol.Error{Code: 200}).Error() != "protocol: unknown error" {
		t.Errorf("unknown code text")
	}
	// A sentinel matches only its own code.
	if errorsIs(e, protocol.ErrNotJSON) || !errorsIs(e, protocol.ErrTruncated) {
		t.Errorf("errors.Is matches the wrong sentinel")
	}
}
