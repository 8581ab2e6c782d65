package phoenixredis

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// capture is one line of testdata/payloads.jsonl: a message two Elixir
// nodes (phoenix_pubsub_redis 3.1.0, OTP 25) saw on Redis.
type capture struct {
	Seq     int
	Channel string
	What    string
	Hex     string
	Decoded string
}

func loadCaptures(t testing.TB) []capture {
	t.Helper()
	f, err := os.Open("testdata/payloads.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []capture
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c capture
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) != 29 {
		t.Fatalf("%d captures, want 29", len(out))
	}
	return out
}

func (c capture) bytes(t testing.TB) []byte {
	b, err := hex.DecodeString(c.Hex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lobbyEvent is the payload of the cloudevent broadcasts of seq 1 and 6
// (and of endpoint-broadcast.json), as Jason encodes it.
const lobbyEvent = `{"data":{"f":1.5,"l":[1,"a",null],"n":1,"ok":true},"id":"e1","source":"/x","specversion":"1.0","type":"t"}`

// Every captured message decodes to the term the Elixir node printed, and
// a Fawkes node does with it what the README of the capture says it must:
// deliver the channel broadcasts, skip the rest for the documented reason.
func TestGoldenCaptures(t *testing.T) {
	want := map[int]struct {
		why     SkipReason
		payload string // the delivered JSON
	}{
		1:  {Delivered, lobbyEvent},
		2:  {SkipNotBroadcast, ""}, // a plain tuple for Elixir processes
		3:  {SkipOtherNode, ""},    // :only for n2
		4:  {SkipOtherNode, ""},    // :only for n1
		5:  {SkipNoSubscriber, ""}, // nobody:here
		6:  {Delivered, lobbyEvent},
		7:  {SkipNotBroadcast, ""}, // a bare map
		21: {Delivered, `{"data":{"big":18446744073709551621,"f":1.5,"i32":100000,"l":[1,"a",null],"n":1,"neg":-7,"no":false,"ok":true,"s":"héllo"},"id":"g1","source":"/go1","specversion":"1.0","type":"t"}`},
		22: {SkipNotBroadcast, ""},
		23: {SkipOtherNode, ""},
		24: {SkipNotBroadcast, ""},
		25: {SkipMalformed, ""}, // version 2
		26: {SkipMalformed, ""}, // not ETF
		27: {SkipNotBroadcast, ""},
		28: {SkipMalformed, ""}, // not the 6-tuple
		29: {SkipNotBroadcast, ""},
	}
	for seq := 8; seq <= 20; seq++ {
		want[seq] = struct {
			why     SkipReason
			payload string
		}{SkipTracker, ""}
	}
	c := testClassifier("fawkes-1", "events:lobby")
	for _, cp := range loadCaptures(t) {
		data := cp.bytes(t)
		term, err := etf.Decode(data, 0)
		switch {
		case strings.HasPrefix(cp.Decoded, "{:DECODE_ERROR"):
			if err == nil {
				t.Errorf("seq %d: decoded %s; Elixir could not decode it", cp.Seq, inspect(term))
			}
		case err != nil:
			t.Errorf("seq %d: %v", cp.Seq, err)
		default:
			if got := inspect(term); got != cp.Decoded {
				t.Errorf("seq %d: decoded\n%s\nElixir printed\n%s", cp.Seq, got, cp.Decoded)
			}
		}
		w, ok := want[cp.Seq]
		if !ok {
			t.Fatalf("seq %d: no expectation", cp.Seq)
		}
		b, why, err := c.classify(data)
		if why != w.why {
			t.Errorf("seq %d (%s): %v (%v), want %v", cp.Seq, cp.What, why, err, w.why)
			continue
		}
		if why != Delivered {
			continue
		}
		// Key order may differ from Jason's for hand-built messages (seq
		// 21 is not in term order); a BEAM node always sends it sorted.
		if b.Topic != "events:lobby" || b.Event != "cloudevent" || b.Binary || !jsonEqual(b.Payload, []byte(w.payload)) || cp.Seq < 21 && string(b.Payload) != w.payload {
			t.Errorf("seq %d: delivered %q %q %s\nwant payload %s", cp.Seq, b.Topic, b.Event, b.Payload, w.payload)
		}
	}
}

// A Fawkes node named like an Elixir node, or registered as a Fawkes
// node, takes what the README says an Elixir node of that name takes.
func TestGoldenCapturesFromTheNodesPointOfView(t *testing.T) {
	caps := loadCaptures(t)
	seq := func(n int) []byte { return caps[n-1].bytes(t) }

	n1 := testClassifier("n1", "events:lobby")
	if _, why, _ := n1.classify(seq(1)); why != SkipOwn {
		t.Errorf("n1 taking its own broadcast: %v, want own", why)
	}
	if _, why, _ := n1.classify(seq(24)); why != SkipOwn {
		t.Errorf("n1 taking a message claiming to come from n1: %v, want own (dropped, as n1 did)", why)
	}
	if _, why, _ := n1.classify(seq(23)); why != SkipNotBroadcast {
		t.Errorf("n1 taking :only for n1: %v, want it examined (not a broadcast)", why)
	}

	registered := testClassifier("fawkes-1", "events:lobby")
	registered.isFawkes = func(name []byte) (bool, error) { return string(name) == "go1", nil }
	if _, why, _ := registered.classify(seq(21)); why != SkipFawkes {
		t.Errorf("a broadcast of a registered Fawkes node: %v, want fawkes (it came through the cluster)", why)
	}
	if _, why, _ := registered.classify(seq(1)); why != Delivered {
		t.Errorf("a broadcast of the Elixir node n1: %v, want delivered", why)
	}

	quiet := testClassifier("fawkes-1")
	if _, why, _ := quiet.classify(seq(1)); why != SkipNoSubscriber {
		t.Errorf("no subscriber: %v", why)
	}
	filtered := testClassifier("fawkes-1", "events:lobby")
	filtered.skip = func(_, event string) bool { return event == "cloudevent" }
	if _, why, _ := filtered.classify(seq(1)); why != SkipFiltered {
		t.Errorf("Config.Skip: %v, want filtered", why)
	}
	small := testClassifier("fawkes-1", "events:lobby")
	small.maxInflated = 100
	if _, why, _ := small.classify(seq(6)); why != SkipUnrepresentable {
		t.Errorf("compressed over MaxInflated: %v, want unrepresentable", why)
	}
}

// The encoder writes what MyApp.Endpoint.broadcast/3 publishes, byte for
// byte, whatever the order of the keys in the client's JSON.
func TestEncoderReproducesEndpointBroadcast(t *testing.T) {
	raw, err := os.ReadFile("testdata/endpoint-broadcast.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct{ Hex, Channel string }
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	want, _ := hex.DecodeString(golden.Hex)
	if Channel("Wire.PubSub") != golden.Channel {
		t.Errorf("Channel(Wire.PubSub) = %q, want %q", Channel("Wire.PubSub"), golden.Channel)
	}
	for _, payload := range []string{
		lobbyEvent,
		`{"specversion":"1.0","type":"t","source":"/x","id":"e1","data":{"ok":true,"n":1,"l":[1,"a",null],"f":1.5}}`,
		" {\"type\" : \"t\", \"id\":\"e0\", \"id\":\"e1\",\n \"source\":\"/x\",\"specversion\":\"1.0\",\"data\":{\"n\":1,\"f\":15e-1,\"l\":[1,\"a\",null],\"ok\":true}} ",
	} {
		b := pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(payload))
		got, err := AppendBroadcast(nil, "n1", b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("from %s\n got %x\nwant %x", payload, got, want)
		}
	}
}

func TestAppendBroadcastRefuses(t *testing.T) {
	for _, tc := range []struct {
		node string
		b    *pubsub.Broadcast
	}{
		{"n1@host name", pubsub.NewBroadcast("t", "e", []byte(`{}`))},
		{"n1", &pubsub.Broadcast{Topic: "t", Event: "e", Payload: []byte{1, 2}, Binary: true}},
		{"n1", pubsub.NewBroadcast("t\xff", "e", []byte(`{}`))},
		{"n1", pubsub.NewBroadcast("t", "e", []byte(`{"x":1e999}`))},
		{"n1", pubsub.NewBroadcast("t", "e", []byte(`{"x":`))},
	} {
		dst := []byte("kept")
		got, err := AppendBroadcast(dst, tc.node, tc.b)
		if err == nil || string(got) != "kept" {
			t.Errorf("%q %+v: %x, %v; want an error and dst as it was", tc.node, tc.b, got, err)
		}
	}
}

func testClassifier(self string, topics ...string) *classifier {
	return &classifier{
		self:          self,
		maxInflated:   DefaultMaxInflated,
		hasSubscriber: func(topic []byte) bool { return containsString(topics, string(topic)) },
		isFawkes:      func([]byte) (bool, error) { return false, nil },
		skip:          SkipPresence,
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Endpoint.Disconnect publishes no payload: Elixir gets %{} (Phoenix's
// disconnect broadcast), and a Fawkes node takes it back as {}. A
// payload that is not a map has no channel frame.
func TestEmptyAndNonMapPayloads(t *testing.T) {
	msg, err := AppendBroadcast(nil, "fawkes-2", pubsub.NewBroadcast("users_socket:42", "disconnect", nil))
	if err != nil {
		t.Fatal(err)
	}
	term, err := etf.Decode(msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := inspect(term); got != `{3, :except, :"fawkes-2", "users_socket:42", %{__struct__: Phoenix.Socket.Broadcast, event: "disconnect", payload: %{}, topic: "users_socket:42"}, Phoenix.Channel.Server}` {
		t.Errorf("decoded %s", got)
	}
	c := testClassifier("fawkes-1", "users_socket:42")
	if b, why, err := c.classify(msg); why != Delivered || string(b.Payload) != "{}" {
		t.Errorf("%v %v %+v", why, err, b)
	}
	list, _ := AppendBroadcast(nil, "fawkes-2", pubsub.NewBroadcast("users_socket:42", "e", []byte(`[1]`)))
	if _, why, _ := c.classify(list); why != SkipUnrepresentable {
		t.Errorf("a list payload: %v, want unrepresentable", why)
	}
}
