package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/protocol"
)

const room = "events:r"

func TestCloudEventGoesToOtherMembersUnchanged(t *testing.T) {
	w := newWorld(t, Config{})
	sender, other, third, elsewhere := w.connect(channels.Conn{}), w.connect(channels.Conn{}), w.connect(channels.Conn{}), w.connect(channels.Conn{})
	sender.join(room, `{}`)
	other.join(room, `{}`)
	third.join(room, `{}`)
	elsewhere.join("events:other", `{}`)

	// Odd spacing, key order, escapes and number spelling must survive.
	ev := `{ "type":"com.example.a" , "specversion":"1.0","id":"e\u00e9-1","source":"/s","data":{"big":1.50e+3,"s":"\u2028"},"ext":-0 }`
	sender.push(room, "cloudevent", ev)

	sender.expect(reply(room, "ok", `{"id":"eé-1"}`))
	want := []byte(`[null,null,"events:r","cloudevent",` + ev + `]`)
	for _, c := range []*client{other, third} {
		got := c.tr.Take()
		if len(got) != 1 || !bytes.Equal(got[0].Data, want) || got[0].Binary {
			t.Errorf("receiver got %q\nwant %q", framesText(got), want)
		}
	}
	elsewhere.expect()
}

func TestCloudEventPatterns(t *testing.T) {
	w := newWorld(t, Config{})
	sender := w.connect(channels.Conn{})
	sender.join(room, `{"event_types":["com.example.*"]}`) // the sender's patterns do not matter
	receivers := map[string]*client{}
	for name, patterns := range map[string]string{
		"none":     `{}`,
		"all":      `{"event_types":["*"]}`,
		"prefix":   `{"event_types":["com.example.*"]}`,
		"exact":    `{"event_types":["com.example.order.created"]}`,
		"infix":    `{"event_types":["com.*.created"]}`,
		"other":    `{"event_types":["org.*","com.example"]}`,
		"twoExact": `{"event_types":["x","com.example.a"]}`,
	} {
		receivers[name] = w.connect(channels.Conn{})
		receivers[name].join(room, patterns)
	}
	for _, tt := range []struct {
		typ  string
		want []string
	}{
		{"com.example.order.created", []string{"none", "all", "prefix", "exact", "infix"}},
		{"com.example.a", []string{"none", "all", "prefix", "twoExact"}},
		{"com.example.", []string{"none", "all", "prefix"}},
		{"com.example", []string{"none", "all", "other"}},
		{"org.x", []string{"none", "all", "other"}},
		{"com.acme.created", []string{"none", "all", "infix"}},
	} {
		sender.push(room, "cloudevent", validEvent("1", tt.typ))
		sender.expect(reply(room, "ok", `{"id":"1"}`))
		for name, c := range receivers {
			got := len(c.tr.Take())
			want := 0
			for _, n := range tt.want {
				if n == name {
					want = 1
				}
			}
			if got != want {
				t.Errorf("type %s: %s got %d frames, want %d", tt.typ, name, got, want)
			}
		}
	}
}

func TestInvalidCloudEventThroughTheChannel(t *testing.T) {
	w := newWorld(t, Config{MaxEventBytes: 200})
	sender, other := w.connect(channels.Conn{}), w.connect(channels.Conn{})
	sender.join(room, `{}`)
	other.join(room, `{}`)
	big := `{` + base + `,"data":"` + strings.Repeat("x", 200) + `"}`
	for _, tt := range []struct{ name, payload, want string }{
		{"missing attributes", `{"specversion":"1.0","type":"t"}`,
			`{"reason":"invalid_cloudevent","message":"The event is not a valid CloudEvent: id is required (and 1 more problem).","errors":[{"attribute":"id","message":"is required"},{"attribute":"source","message":"is required"}]}`},
		{"both data and data_base64", `{` + base + `,"data":1,"data_base64":"aGk="}`,
			`{"reason":"invalid_cloudevent","message":"The event is not a valid CloudEvent: data_base64 must not be present together with data.","errors":[{"attribute":"data_base64","message":"must not be present together with data"}]}`},
		{"too large", big,
			fmt.Sprintf(`{"reason":"invalid_cloudevent","message":"The event is not a valid CloudEvent: is %[1]d bytes, more than the limit of 200.","errors":[{"attribute":"","message":"is %[1]d bytes, more than the limit of 200"}]}`, len(big))},
		{"payload not an object", `["x"]`,
			`{"reason":"invalid_cloudevent","message":"The event is not a valid CloudEvent: must be a JSON object.","errors":[{"attribute":"","message":"must be a JSON object"}]}`},
		{"payload a string", `"{}"`,
			`{"reason":"invalid_cloudevent","message":"The event is not a valid CloudEvent: must be a JSON object.","errors":[{"attribute":"","message":"must be a JSON object"}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sender.push(room, "cloudevent", tt.payload)
			sender.expect(rejected(room, tt.want)...)
			other.expect()
		})
	}
}

func TestPing(t *testing.T) {
	w := newWorld(t, Config{})
	c := w.connect(channels.Conn{})
	c.join(room, `{}`)
	c.push(room, "ping", `{"ignored":true}`)
	ts := `{"timestamp":"2026-11-25T20:32:07.721038Z"}`
	c.expect(pushed(room, "pong", ts), reply(room, "ok", ts))

	w.now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))
	c.push(room, "ping", `{}`)
	ts = `{"timestamp":"2026-01-02T02:04:05.000000Z"}` // UTC, always 6 digits
	c.expect(pushed(room, "pong", ts), reply(room, "ok", ts))
}

func TestSubscribe(t *testing.T) {
	const bad = `{"reason":"invalid_subscription","message":%q}`
	tests := []struct {
		name   string
		steps  [][2]string // event, payload
		status string
		want   string // the last step's response
	}{
		{"subscribe", [][2]string{{"subscribe", `{"event_types":["a.*","b"]}`}}, "ok", `{"event_types":["a.*","b"]}`},
		{"subscribe adds in order, ignoring duplicates", [][2]string{
			{"subscribe", `{"event_types":["b","a"]}`},
			{"subscribe", `{"event_types":["c","a","c","b"]}`}}, "ok", `{"event_types":["b","a","c"]}`},
		{"unsubscribe removes exact strings and ignores unknown ones", [][2]string{
			{"subscribe", `{"event_types":["a.*","b","c"]}`},
			{"unsubscribe", `{"event_types":["a","b","zzz"]}`}}, "ok", `{"event_types":["a.*","c"]}`},
		{"unsubscribe everything", [][2]string{
			{"subscribe", `{"event_types":["a"]}`},
			{"unsubscribe", `{"event_types":["a"]}`}}, "ok", `{"event_types":[]}`},
		{"empty list", [][2]string{{"subscribe", `{"event_types":[]}`}}, "ok", `{"event_types":[]}`},
		{"up to the limit", [][2]string{{"subscribe", `{"event_types":["a","b","c"]}`}}, "ok", `{"event_types":["a","b","c"]}`},
		{"duplicates do not count toward the limit", [][2]string{{"subscribe", `{"event_types":["a","b","c"]}`}, {"subscribe", `{"event_types":["c","a"]}`}}, "ok", `{"event_types":["a","b","c"]}`},
		{"pattern of 256 characters", [][2]string{{"subscribe", `{"event_types":["` + strings.Repeat("é", 256) + `"]}`}}, "ok", `{"event_types":["` + strings.Repeat("é", 256) + `"]}`},

		{"over the limit", [][2]string{{"subscribe", `{"event_types":["a","b","c","d"]}`}}, "error", jsonf(bad, "at most 3 event types per channel")},
		{"over the limit in two steps", [][2]string{{"subscribe", `{"event_types":["a","b"]}`}, {"subscribe", `{"event_types":["c","d"]}`}}, "error", jsonf(bad, "at most 3 event types per channel")},
		{"missing list", [][2]string{{"subscribe", `{}`}}, "error", jsonf(bad, "event_types must be a list of strings")},
		{"null list", [][2]string{{"subscribe", `{"event_types":null}`}}, "error", jsonf(bad, "event_types must be a list of strings")},
		{"list a string", [][2]string{{"subscribe", `{"event_types":"a"}`}}, "error", jsonf(bad, "event_types must be a list of strings")},
		{"list an object", [][2]string{{"subscribe", `{"event_types":{"a":1}}`}}, "error", jsonf(bad, "event_types must be a list of strings")},
		{"payload an array", [][2]string{{"subscribe", `["a"]`}}, "error", jsonf(bad, "event_types must be a list of strings")},
		{"non-string entry", [][2]string{{"subscribe", `{"event_types":["a",1]}`}}, "error", jsonf(bad, "event_types[1] must be a string")},
		{"null entry", [][2]string{{"subscribe", `{"event_types":[null]}`}}, "error", jsonf(bad, "event_types[0] must be a string")},
		{"empty pattern", [][2]string{{"subscribe", `{"event_types":["a",""]}`}}, "error", jsonf(bad, "event_types[1] must not be empty")},
		{"pattern of 257 characters", [][2]string{{"subscribe", `{"event_types":["` + strings.Repeat("a", 257) + `"]}`}}, "error", jsonf(bad, "event_types[0] is longer than 256 characters")},
		{"unsubscribe missing list", [][2]string{{"unsubscribe", `{}`}}, "error", jsonf(bad, "event_types must be a list of strings")},
		{"unsubscribe non-string entry", [][2]string{{"unsubscribe", `{"event_types":[true]}`}}, "error", jsonf(bad, "event_types[0] must be a string")},
		{"unsubscribe empty pattern", [][2]string{{"unsubscribe", `{"event_types":[""]}`}}, "error", jsonf(bad, "event_types[0] must not be empty")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, Config{MaxPatterns: 3})
			c := w.connect(channels.Conn{})
			c.join(room, `{}`)
			for _, st := range tt.steps[:len(tt.steps)-1] {
				c.push(room, st[0], st[1])
				c.tr.Take()
			}
			before := append([]string(nil), channelOf(t, w).patterns...)
			last := tt.steps[len(tt.steps)-1]
			c.push(room, last[0], last[1])
			if tt.status == "ok" {
				c.expect(reply(room, "ok", tt.want))
				return
			}
			c.expect(rejected(room, tt.want)...)
			if got := channelOf(t, w).patterns; strings.Join(got, ",") != strings.Join(before, ",") {
				t.Errorf("a bad payload changed the subscriptions from %q to %q", before, got)
			}
		})
	}
}

func TestSubscriptionsFilterDelivery(t *testing.T) {
	w := newWorld(t, Config{})
	sender, rcv := w.connect(channels.Conn{}), w.connect(channels.Conn{})
	sender.join(room, `{}`)
	rcv.join(room, `{}`)
	send := func(typ string) int {
		sender.push(room, "cloudevent", validEvent("1", typ))
		sender.tr.Take()
		return len(rcv.tr.Take())
	}
	if send("x.y") != 1 {
		t.Error("no patterns: not delivered")
	}
	rcv.push(room, "subscribe", `{"event_types":["a.*"]}`)
	rcv.tr.Take()
	if send("x.y") != 0 || send("a.b") != 1 {
		t.Error("after subscribe a.*: wrong delivery")
	}
	rcv.push(room, "unsubscribe", `{"event_types":["a.*"]}`)
	rcv.tr.Take()
	if send("x.y") != 1 {
		t.Error("after unsubscribing everything: not delivered")
	}
}

func TestUnknownEvent(t *testing.T) {
	w := newWorld(t, Config{})
	c := w.connect(channels.Conn{})
	c.join(room, `{}`)
	c.push(room, "shout", `{}`)
	c.expect(rejected(room, `{"reason":"unknown_event","message":"unknown event: shout"}`)...)
}

func TestBinaryFrame(t *testing.T) {
	w := newWorld(t, Config{})
	c, other := w.connect(channels.Conn{}), w.connect(channels.Conn{})
	c.join(room, `{}`)
	other.join(room, `{}`)
	c.mux.Dispatch(protocol.Message{JoinRef: protocol.StringRef("1"), Ref: protocol.StringRef("2"), Topic: room, Event: "cloudevent", Payload: []byte(validEvent("1", "t")), Binary: true})
	c.expect(rejected(room, `{"reason":"binary_not_supported","message":"binary frames are not supported on events topics: send JSON"}`)...)
	other.expect()
	c.push(room, "ping", `{}`) // the channel lives on
	if got := len(c.tr.Take()); got != 2 {
		t.Errorf("after a binary frame, ping got %d frames", got)
	}
}

func TestErrorCountAndTerminateLog(t *testing.T) {
	w := newWorld(t, Config{})
	c := w.connect(channels.Conn{})
	c.join(room, `{"event_types":["a.*"]}`)
	c.push(room, "cloudevent", `{}`)                   // 1
	c.push(room, "subscribe", `{}`)                    // 2
	c.push(room, "nope", `{}`)                         // 3
	c.push(room, "ping", `{}`)                         // not an error
	c.push(room, "cloudevent", validEvent("1", "a.b")) // not an error
	c.push(room, "subscribe", `{"event_types":["b"]}`) // not an error
	if got := channelOf(t, w).errors; got != 3 {
		t.Errorf("error count %d, want 3", got)
	}
	w.now = w.now.Add(90 * time.Second)
	c.send(`["1","3","events:r","phx_leave",{}]`)

	var line struct {
		Level, Topic, Reason, Message string
		Subscriptions                 []string
		Errors                        int
		Duration                      float64 `json:"duration_ms"`
	}
	logs := strings.TrimSpace(w.log.String())
	if strings.Count(logs, "\n") != 0 {
		t.Fatalf("want one log line, got:\n%s", logs)
	}
	if err := json.Unmarshal([]byte(logs), &line); err != nil {
		t.Fatal(err)
	}
	if line.Level != "info" || line.Topic != room || line.Reason != "left" || strings.Join(line.Subscriptions, ",") != "a.*,b" || line.Errors != 3 || line.Duration != 90000 {
		t.Errorf("terminate log line: %s", logs)
	}
	if n := len(w.svc.Topics()); n != 0 {
		t.Errorf("%d topics with members after leave", n)
	}
	if n := w.svc.sets.len(); n != 0 {
		t.Errorf("%d pattern sets held after leave", n)
	}
}

func TestHeartbeat(t *testing.T) {
	w := newWorld(t, Config{})
	a1, a2, b, gone := w.connect(channels.Conn{}), w.connect(channels.Conn{}), w.connect(channels.Conn{}), w.connect(channels.Conn{})
	a1.join("events:a", `{"event_types":["never"]}`) // heartbeats ignore patterns
	a2.join("events:a", `{}`)
	b.join("events:b", `{}`)
	gone.join("events:c", `{}`)
	gone.send(`["1","3","events:c","phx_leave",{}]`)
	gone.tr.Take()

	spy := &countingSubscriber{}
	w.ps.Subscribe("events:a", spy)
	w.svc.heartbeat(context.Background(), time.Second, map[string]bool{})
	ts := `{"timestamp":"2026-11-25T20:32:07.721038Z"}`
	a1.expect(broadcast("events:a", "heartbeat", ts))
	a2.expect(broadcast("events:a", "heartbeat", ts))
	b.expect(broadcast("events:b", "heartbeat", ts))
	if spy.n != 1 {
		t.Errorf("events:a got %d heartbeat broadcasts, want one", spy.n)
	}

	if err := w.svc.SendHeartbeat("b"); err != nil {
		t.Fatal(err)
	}
	b.expect(broadcast("events:b", "heartbeat", ts))
	a1.expect()
}

func TestRunSendsHeartbeats(t *testing.T) {
	w := newWorld(t, Config{HeartbeatInterval: 5 * time.Millisecond, Now: time.Now})
	c := w.connect(channels.Conn{})
	c.join(room, `{}`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.svc.Run(ctx); close(done) }()
	checkFor(t, 2*time.Second, func() bool { return c.tr.Len() >= 2 })
	cancel()
	<-done
	for _, f := range decodeFrames(t, c.tr.Take()) {
		if f.Event != "heartbeat" || f.JoinRef != "null" || f.Ref != "null" {
			t.Errorf("unexpected frame %+v", f)
		}
	}
}

func TestHeartbeatInterval(t *testing.T) {
	for _, tt := range []struct{ cfg, want time.Duration }{
		{0, 30 * time.Second},
		{time.Second, time.Second},
		{HeartbeatOff, 0},
	} {
		svc := New(Config{HeartbeatInterval: tt.cfg})
		if got := svc.HeartbeatInterval(); got != tt.want {
			t.Errorf("Config %v: HeartbeatInterval() = %v, want %v", tt.cfg, got, tt.want)
		}
	}
	done := make(chan struct{})
	go func() { New(Config{HeartbeatInterval: HeartbeatOff}).Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return with the heartbeat off")
	}
}

func TestServiceBroadcast(t *testing.T) {
	w := newWorld(t, Config{})
	a, b := w.connect(channels.Conn{}), w.connect(channels.Conn{})
	a.join(room, `{"event_types":["x.*"]}`)
	b.join(room, `{"event_types":["y"]}`)
	ev := validEvent("s1", "x.1")
	if err := w.svc.Broadcast("r", []byte(ev)); err != nil {
		t.Fatal(err)
	}
	a.expect(broadcast(room, "cloudevent", ev))
	b.expect()
	if err := w.svc.Broadcast("r", []byte(`{}`)); err == nil {
		t.Error("invalid event broadcast")
	}
	if err := w.svc.Broadcast("bad room", []byte(ev)); err == nil {
		t.Error("broadcast to an invalid room")
	}
	a.expect()
	b.expect()
}

func TestServiceBroadcastFrom(t *testing.T) {
	w := newWorld(t, Config{})
	a, b := w.connect(channels.Conn{}), w.connect(channels.Conn{})
	a.join(room, `{}`)
	sockA := w.last(t).sock
	b.join(room, `{}`)
	ev := validEvent("s1", "x.1")
	if err := w.svc.BroadcastFrom(sockA, []byte(ev)); err != nil {
		t.Fatal(err)
	}
	a.expect()
	b.expect(broadcast(room, "cloudevent", ev))
}

func TestForeignCloudEventBroadcastIsFiltered(t *testing.T) {
	// A cloudevent broadcast made without the service (another node, other
	// code) has no Meta: the filter reads the type from the payload.
	w := newWorld(t, Config{})
	a := w.connect(channels.Conn{})
	a.join(room, `{"event_types":["x.*"]}`)
	for _, tt := range []struct {
		typ  string
		want int
	}{{"x.1", 1}, {"y", 0}} {
		b := pubsubBroadcast(room, validEvent("1", tt.typ))
		if err := w.ps.Publish(b); err != nil {
			t.Fatal(err)
		}
		if got := len(a.tr.Take()); got != tt.want {
			t.Errorf("type %s: %d frames, want %d", tt.typ, got, tt.want)
		}
	}
}

func jsonf(format string, args ...any) string {
	b, _ := json.Marshal(args[0])
	return strings.Replace(format, "%q", string(b), 1)
}

func framesText(fs []protocol.Frame) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Data))
	}
	return out
}

// checkFor polls cond until it holds or d passes.
func checkFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}
