package protocol_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/protocol"
)

// The golden frames live at the repository root so that the JS client tests
// read the same files; see testdata/golden/README.md for the format.
const goldenDir = "../testdata/golden"

type goldenFile struct {
	Frames []goldenFrame `json:"frames"`
}

type goldenFrame struct {
	Name      string        `json:"name"`
	Direction string        `json:"direction"` // "server" or "client"
	Kind      string        `json:"kind"`      // "push", "reply" or "broadcast"
	Exact     bool          `json:"exact"`
	Text      *string       `json:"text"`
	Hex       *string       `json:"hex"`
	Message   goldenMessage `json:"message"`
}

type goldenMessage struct {
	JoinRef    json.RawMessage `json:"join_ref"`
	Ref        json.RawMessage `json:"ref"`
	Topic      string          `json:"topic"`
	Event      string          `json:"event"`
	Status     *string         `json:"status"`
	Payload    json.RawMessage `json:"payload"`
	PayloadHex *string         `json:"payload_hex"`
}

// goldenSerializers maps each golden file to the serializer it describes.
var goldenSerializers = []struct {
	file   string
	ser    protocol.Serializer
	binary bool
}{
	{"v2_json.json", protocol.V2JSON, false},
	{"v1_json.json", protocol.V1JSON, false},
	{"v2_binary.json", protocol.V2JSON, true},
}

func loadGolden(t testing.TB, file string) []goldenFrame {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(goldenDir, file))
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	var g goldenFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(g.Frames) == 0 {
		t.Fatalf("%s: no frames", file)
	}
	return g.Frames
}

// wire returns the frame's bytes: its text, or its hex decoded.
func (f *goldenFrame) wire(t testing.TB, binary bool) []byte {
	t.Helper()
	switch {
	case binary && f.Hex != nil && f.Text == nil:
		b, err := hex.DecodeString(*f.Hex)
		if err != nil {
			t.Fatalf("%s: hex: %v", f.Name, err)
		}
		return b
	case !binary && f.Text != nil && f.Hex == nil:
		return []byte(*f.Text)
	}
	t.Fatalf("%s: want exactly one of text (JSON) or hex (binary)", f.Name)
	return nil
}

// refToken returns the compact JSON token of a golden ref; absent is null.
func refToken(t testing.TB, raw json.RawMessage) string {
	t.Helper()
	if len(raw) == 0 {
		return "null"
	}
	return compactJSON(t, raw)
}

func compactJSON(t testing.TB, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("compact %q: %v", raw, err)
	}
	return b.String()
}

// refFromToken builds the Ref a decoder gives for a JSON token: plain
// strings become string refs, anything else is kept raw.
func refFromToken(tok string) protocol.Ref {
	var s string
	if tok[0] == '"' && json.Unmarshal([]byte(tok), &s) == nil && !bytes.ContainsRune([]byte(tok), '\\') {
		return protocol.StringRef(s)
	}
	return protocol.RawRef(tok)
}

// message builds the protocol.Message a golden entry stands for.
func (f *goldenFrame) message(t testing.TB, binary bool) protocol.Message {
	t.Helper()
	g := f.Message
	m := protocol.Message{
		JoinRef: refFromToken(refToken(t, g.JoinRef)),
		Ref:     refFromToken(refToken(t, g.Ref)),
		Topic:   g.Topic,
		Event:   g.Event,
		Binary:  binary,
	}
	switch f.Kind {
	case "push":
		m.Kind = protocol.Push
	case "reply":
		m.Kind = protocol.Reply
		if g.Status == nil || g.Event != protocol.EventReply {
			t.Fatalf("%s: a reply needs a status and event %q", f.Name, protocol.EventReply)
		}
		m.Status = *g.Status
	case "broadcast":
		m.Kind = protocol.Broadcast
	default:
		t.Fatalf("%s: unknown kind %q", f.Name, f.Kind)
	}
	if binary {
		if g.PayloadHex == nil || g.Payload != nil {
			t.Fatalf("%s: binary frames need payload_hex only", f.Name)
		}
		p, err := hex.DecodeString(*g.PayloadHex)
		if err != nil {
			t.Fatalf("%s: payload_hex: %v", f.Name, err)
		}
		m.Payload = p
	} else {
		if g.Payload == nil || g.PayloadHex != nil {
			t.Fatalf("%s: JSON frames need payload only", f.Name)
		}
		m.Payload = []byte(compactJSON(t, g.Payload))
	}
	return m
}

// jsonValue decodes a JSON text into any, for comparisons where key order
// does not matter.
func jsonValue(t testing.TB, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, data)
	}
	return v
}

// checkFrame compares an encoded frame with the golden bytes.
func checkFrame(t *testing.T, got, want []byte, exact, binary bool) {
	t.Helper()
	if exact || binary {
		if !bytes.Equal(got, want) {
			if binary {
				t.Errorf("frame:\n got %x\nwant %x", got, want)
			} else {
				t.Errorf("frame:\n got %s\nwant %s", got, want)
			}
		}
		return
	}
	if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, got)); diff != "" {
		t.Errorf("frame differs (-want +got):\n%s\ngot %s", diff, got)
	}
}

// decodedFields is what a decoded message is compared on. Refs are compared
// as JSON tokens, so a numeric ref must decode to a ref encoding as that
// number, and a string to a string.
type decodedFields struct {
	JoinRef, Ref, Topic, Event, Status string
	Payload                            any
	Binary                             bool
}

func fieldsOf(t testing.TB, m protocol.Message) decodedFields {
	t.Helper()
	d := decodedFields{
		JoinRef: m.JoinRef.JSON(), Ref: m.Ref.JSON(),
		Topic: m.Topic, Event: m.Event, Status: m.Status, Binary: m.Binary,
	}
	if m.Binary {
		d.Payload = hex.EncodeToString(m.Payload)
	} else {
		d.Payload = jsonValue(t, m.Payload)
	}
	return d
}

func TestGolden(t *testing.T) {
	for _, gs := range goldenSerializers {
		t.Run(gs.file, func(t *testing.T) {
			frames := loadGolden(t, gs.file)
			names := map[string]bool{}
			for i := range frames {
				f := &frames[i]
				if names[f.Name] {
					t.Fatalf("duplicate frame name %q", f.Name)
				}
				names[f.Name] = true
				t.Run(f.Name, func(t *testing.T) {
					wire := f.wire(t, gs.binary)
					want := f.message(t, gs.binary)
					switch f.Direction {
					case "client":
						testGoldenClient(t, gs.ser, f, wire, want)
					case "server":
						testGoldenServer(t, gs.ser, f, wire, want)
					default:
						t.Fatalf("unknown direction %q", f.Direction)
					}
				})
			}
		})
	}
}

// testGoldenClient decodes a client frame, then encodes the decoded message
// back where the server format can express it.
func testGoldenClient(t *testing.T, ser protocol.Serializer, f *goldenFrame, wire []byte, want protocol.Message) {
	if f.Kind != "push" {
		t.Fatalf("client frames are pushes, got %q", f.Kind)
	}
	got, err := ser.Decode(wire, want.Binary)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got.Kind != protocol.Push {
		t.Errorf("Kind = %v, want push", got.Kind)
	}
	if diff := cmp.Diff(fieldsOf(t, want), fieldsOf(t, got)); diff != "" {
		t.Errorf("Decode differs (-want +got):\n%s", diff)
	}
	if !got.JoinRef.Equal(want.JoinRef) || !got.Ref.Equal(want.Ref) {
		t.Errorf("refs %v/%v not Equal to %v/%v", got.JoinRef, got.Ref, want.JoinRef, want.Ref)
	}

	switch {
	case want.Binary:
		// A server push has no ref, so the client layout cannot be encoded;
		// instead check that the client frame is exactly its fields.
		if enc := appendClientBinary(nil, &got); !bytes.Equal(enc, wire) {
			t.Errorf("client layout of decoded message:\n got %x\nwant %x", enc, wire)
		}
	case ser.Version() == protocol.V2:
		// A V2 array reads the same in both directions.
		enc, err := ser.Append(nil, &got)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		checkFrame(t, enc, wire, f.Exact, false)
	default:
		// V1 never emits join_ref: compare with the frame less join_ref.
		enc, err := ser.Append(nil, &got)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(wire, &obj); err != nil {
			t.Fatal(err)
		}
		delete(obj, "join_ref")
		wantFrame, _ := json.Marshal(obj)
		checkFrame(t, enc, wantFrame, false, false)
	}
}

// testGoldenServer encodes the message and compares it with the frame, then
// reads the frame back the way a client does.
func testGoldenServer(t *testing.T, ser protocol.Serializer, f *goldenFrame, wire []byte, want protocol.Message) {
	enc, err := ser.Append(nil, &want)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	checkFrame(t, enc, wire, f.Exact, want.Binary)

	// Appending after existing bytes keeps them and adds the same frame.
	prefix := []byte("prefix")
	enc2, err := ser.Append(prefix, &want)
	if err != nil || !bytes.Equal(enc2[:len(prefix)], prefix) || !bytes.Equal(enc2[len(prefix):], enc) {
		t.Errorf("Append after a prefix: %q, %v", enc2, err)
	}

	// Decode direction.
	var got protocol.Message
	if want.Binary {
		got, err = decodeServerBinary(wire)
	} else {
		// Server JSON frames have the client frame's shape, with a reply's
		// status and response wrapped in the payload.
		got, err = ser.Decode(wire, false)
		if err == nil && f.Kind == "reply" {
			got, err = unwrapReply(got)
		}
		if err == nil && f.Kind == "broadcast" {
			got.Kind = protocol.Broadcast
		}
	}
	if err != nil {
		t.Fatalf("reading the frame back: %v", err)
	}
	wantFields := fieldsOf(t, want)
	if want.Binary && f.Kind == "push" {
		wantFields.Ref = "null" // server pushes carry no ref
	}
	if diff := cmp.Diff(wantFields, fieldsOf(t, got)); diff != "" {
		t.Errorf("frame read back differs (-want +got):\n%s", diff)
	}
}

func unwrapReply(m protocol.Message) (protocol.Message, error) {
	var w struct {
		Status   *string         `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(m.Payload, &w); err != nil || w.Status == nil || w.Response == nil {
		return m, errors.New("reply payload is not {status, response}")
	}
	m.Kind, m.Status, m.Payload = protocol.Reply, *w.Status, w.Response
	return m, nil
}

// appendClientBinary encodes the client-to-server kind-0 layout, which the
// package only decodes.
func appendClientBinary(dst []byte, m *protocol.Message) []byte {
	f := []string{m.JoinRef.String(), m.Ref.String(), m.Topic, m.Event}
	dst = append(dst, 0)
	for _, s := range f {
		dst = append(dst, byte(len(s)))
	}
	for _, s := range f {
		dst = append(dst, s...)
	}
	return append(dst, m.Payload...)
}

// decodeServerBinary reads a server binary frame as phoenix.js does: empty
// refs stay empty strings here, except the fields a kind does not carry,
// which are null.
func decodeServerBinary(b []byte) (protocol.Message, error) {
	if len(b) == 0 {
		return protocol.Message{}, errors.New("empty")
	}
	var nf int
	switch b[0] {
	case 0:
		nf = 3
	case 1:
		nf = 4
	case 2:
		nf = 2
	default:
		return protocol.Message{}, errors.New("unknown kind")
	}
	if len(b) < 1+nf {
		return protocol.Message{}, errors.New("short header")
	}
	off := 1 + nf
	fields := make([]string, nf)
	for k := range nf {
		n := int(b[1+k])
		if len(b) < off+n {
			return protocol.Message{}, errors.New("short fields")
		}
		fields[k] = string(b[off : off+n])
		off += n
	}
	m := protocol.Message{Payload: b[off:], Binary: true}
	switch b[0] {
	case 0:
		m.Kind, m.JoinRef, m.Topic, m.Event = protocol.Push, protocol.StringRef(fields[0]), fields[1], fields[2]
	case 1:
		m.Kind, m.JoinRef, m.Ref, m.Topic, m.Status = protocol.Reply, protocol.StringRef(fields[0]), protocol.StringRef(fields[1]), fields[2], fields[3]
		m.Event = protocol.EventReply
	case 2:
		m.Kind, m.Topic, m.Event = protocol.Broadcast, fields[0], fields[1]
	}
	return m, nil
}
