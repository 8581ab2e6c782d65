package conformance_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/channelstest"
	"github.com/fawkes-rt/fawkes/channels/conformance"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// conn is one connection's Mux with the conformance channel on
// "conformance:*" and a recorder of what it sends.
type conn struct {
	t   *testing.T
	mux *channels.Mux
	rec *channelstest.Recorder
}

func newConn(t *testing.T, ps pubsub.PubSub, id string) *conn {
	t.Helper()
	r := channels.NewRouter()
	r.Handle("conformance:*", conformance.New)
	rec := &channelstest.Recorder{}
	m := channels.NewMux(channels.MuxConfig{Router: r, PubSub: ps, Transport: rec, Conn: channels.Conn{ID: id}})
	t.Cleanup(m.Close)
	return &conn{t: t, mux: m, rec: rec}
}

func (c *conn) send(joinRef, ref, topic, event, payload string) {
	c.mux.Dispatch(protocol.Message{JoinRef: protocol.StringRef(joinRef), Ref: protocol.StringRef(ref), Topic: topic, Event: event, Payload: []byte(payload)})
}

func (c *conn) sendBinary(joinRef, ref, topic, event string, payload []byte) {
	c.mux.Dispatch(protocol.Message{JoinRef: protocol.StringRef(joinRef), Ref: protocol.StringRef(ref), Topic: topic, Event: event, Payload: payload, Binary: true})
}

// frames waits until n frames were sent and returns them, text frames as
// generic JSON and binary ones as "binary:<bytes>".
func (c *conn) frames(n int) []any {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.rec.Len() < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("%d frames sent, want %d", c.rec.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
	var out []any
	for _, f := range c.rec.Take() {
		if f.Binary {
			out = append(out, "binary:"+string(f.Data))
			continue
		}
		var v any
		if err := json.Unmarshal(f.Data, &v); err != nil {
			c.t.Fatalf("frame %q: %v", f.Data, err)
		}
		out = append(out, v)
	}
	return out
}

func (c *conn) expect(want ...string) {
	c.t.Helper()
	var w []any
	for _, s := range want {
		if strings.HasPrefix(s, "binary:") {
			w = append(w, s)
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			c.t.Fatalf("bad expectation %s", s)
		}
		w = append(w, v)
	}
	if diff := cmp.Diff(w, c.frames(len(want))); diff != "" {
		c.t.Errorf("frames (-want +got):\n%s", diff)
	}
}

func TestJoinMisbehavesOnlyTheFirstTimes(t *testing.T) {
	c := newConn(t, nil, "")
	topic := "conformance:times-" + t.Name()
	c.send("1", "1", topic, "phx_join", `{"refuse":{"reason":"first"},"times":2}`)
	c.send("2", "2", topic, "phx_join", `{"refuse":{"reason":"first"},"times":2}`)
	c.send("3", "3", topic, "phx_join", `{"refuse":{"reason":"first"},"times":2,"reply":{"n":3}}`)
	c.expect(
		`["1","1","`+topic+`","phx_reply",{"status":"error","response":{"reason":"first"}}]`,
		`["2","2","`+topic+`","phx_reply",{"status":"error","response":{"reason":"first"}}]`,
		`["3","3","`+topic+`","phx_reply",{"status":"ok","response":{"n":3}}]`,
	)
}

func TestJoinDelay(t *testing.T) {
	c := newConn(t, nil, "")
	start := time.Now()
	c.send("1", "1", "conformance:slow", "phx_join", `{"delay_ms":50}`)
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Errorf("join answered after %v, want at least 50ms", took)
	}
	c.expect(`["1","1","conformance:slow","phx_reply",{"status":"ok","response":{}}]`)
}

func TestCommands(t *testing.T) {
	c := newConn(t, nil, "")
	const topic = "conformance:cmd"
	c.send("1", "1", topic, "phx_join", `{}`)
	c.send("1", "2", topic, "reply", `{"status":"custom","response":{"a":1}}`)
	c.send("1", "3", topic, "reply", `{"status":"ok"}`)
	c.send("1", "4", topic, "reply", `{"response":{}}`)
	c.send("1", "5", topic, "push_binary", `{"hex":"00ff"}`)
	c.send("1", "6", topic, "push_binary", `{"hex":"zz"}`)
	c.send("1", "7", topic, "received", `{}`)
	c.sendBinary("1", "8", topic, "inspect", []byte{1, 2, 255})
	c.expect(
		`["1","1","conformance:cmd","phx_reply",{"status":"ok","response":{}}]`,
		`["1","2","conformance:cmd","phx_reply",{"status":"custom","response":{"a":1}}]`,
		`["1","3","conformance:cmd","phx_reply",{"status":"ok","response":{}}]`,
		`["1","4","conformance:cmd","phx_reply",{"status":"error","response":{"reason":"invalid payload","message":"\"reply\" wants {\"status\": string, \"response\": object}"}}]`,
		"binary:\x00\x01\x0f\x0d1conformance:cmdbinary_pushed\x00\xff",
		`["1","5","conformance:cmd","phx_reply",{"status":"ok","response":{}}]`,
		`["1","6","conformance:cmd","phx_reply",{"status":"error","response":{"reason":"invalid payload","message":"\"push_binary\" wants {\"hex\": \"<bytes in hex>\"}"}}]`,
		`["1","7","conformance:cmd","phx_reply",{"status":"ok","response":{"events":["reply","reply","reply","push_binary","push_binary"]}}]`,
		`["1","8","conformance:cmd","phx_reply",{"status":"ok","response":{"size":3,"hex":"0102ff"}}]`,
	)
}

func TestReplyLaterDelay(t *testing.T) {
	c := newConn(t, nil, "")
	c.send("1", "1", "conformance:later", "phx_join", `{}`)
	c.expect(`["1","1","conformance:later","phx_reply",{"status":"ok","response":{}}]`)
	start := time.Now()
	c.send("1", "2", "conformance:later", "reply_later", `{"delay_ms":60}`)
	c.expect(`["1","2","conformance:later","phx_reply",{"status":"ok","response":{}}]`)
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("reply after %v, want at least 60ms", took)
	}
}

func TestBroadcastBinary(t *testing.T) {
	ps := pubsub.NewLocal()
	a, b := newConn(t, ps, ""), newConn(t, ps, "")
	a.send("1", "1", "conformance:bb", "phx_join", `{}`)
	b.send("1", "1", "conformance:bb", "phx_join", `{}`)
	a.frames(1)
	b.frames(1)
	a.send("1", "2", "conformance:bb", "broadcast_binary", `{"hex":"0a0b"}`)
	b.expect("binary:\x02\x0e\x0bconformance:bbbroadcasted\x0a\x0b")
}

func TestDisconnect(t *testing.T) {
	ps := pubsub.NewLocal()
	anon := newConn(t, ps, "")
	anon.send("1", "1", "conformance:d", "phx_join", `{}`)
	anon.send("1", "2", "conformance:d", "disconnect", `{}`)
	anon.expect(
		`["1","1","conformance:d","phx_reply",{"status":"ok","response":{}}]`,
		`["1","2","conformance:d","phx_reply",{"status":"error","response":{"reason":"anonymous socket"}}]`,
	)
	user := newConn(t, ps, "user:1")
	user.send("1", "1", "conformance:d", "phx_join", `{}`)
	user.send("1", "2", "conformance:d", "disconnect", `{}`)
	user.frames(2)
	deadline := time.Now().Add(5 * time.Second)
	for user.rec.Disconnected() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the connection of socket id user:1 was not disconnected")
		}
		time.Sleep(time.Millisecond)
	}
	if anon.rec.Disconnected() != 0 {
		t.Error("the anonymous connection was disconnected")
	}
}
