package events

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// newPresenceWorld makes a world whose Service tracks presence.
func newPresenceWorld(t *testing.T, cfg Config) (*world, *presence.Presence) {
	ps := pubsub.NewLocal()
	p := presence.New(ps)
	cfg.PubSub, cfg.Presence = ps, p
	return newWorld(t, cfg), p
}

// presences decodes a state, or the joins or leaves of a diff, as
// key -> metas without their phx_ref (checked to be there).
func presences(t *testing.T, v any) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	st, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("presences of %v: not an object", v)
	}
	for key, e := range st {
		for _, m := range e.(map[string]any)["metas"].([]any) {
			meta := m.(map[string]any)
			if r, _ := meta["phx_ref"].(string); len(r) != 16 {
				t.Errorf("meta %v: no 16-character phx_ref", meta)
			}
			delete(meta, "phx_ref")
			out[key] = append(out[key], meta)
		}
	}
	return out
}

// joinFrames joins topic and returns what the client got.
func (c *client) joinFrames(topic, payload string) []frame {
	c.t.Helper()
	c.send(`["1","1",` + quote(topic) + `,"phx_join",` + payload + `]`)
	return decodeFrames(c.t, c.tr.Take())
}

func TestPresenceJoin(t *testing.T) {
	onlineAt := float64(testNow.Unix())
	anyKey := "" // the key is random
	meta := func(kv ...any) map[string]any {
		m := map[string]any{"online_at": onlineAt}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	atLimit := `{"k":"` + strings.Repeat("x", 64-len(`{"k":""}`)) + `"}`
	tests := []struct {
		name    string
		conn    channels.Conn
		payload string
		key     string         // anyKey: random
		meta    map[string]any // nil: the join is refused with response
		refusal string
	}{
		{name: "keyed by the socket id first", conn: channels.Conn{ID: "user:42", Params: map[string]string{"user_id": "7"}},
			payload: `{}`, key: "user:42", meta: meta()},
		{name: "then by the user_id param", conn: channels.Conn{Params: map[string]string{"user_id": "7"}},
			payload: `{}`, key: "7", meta: meta()},
		{name: "else a random key", payload: `{}`, key: anyKey, meta: meta()},
		{name: "an empty user_id is none", conn: channels.Conn{Params: map[string]string{"user_id": ""}},
			payload: `{}`, key: anyKey, meta: meta()},
		{name: "meta members added", conn: channels.Conn{ID: "u"}, payload: `{"meta":{"name":"Ann","device":{"kind":"phone"},"n":[1,2]}}`,
			key: "u", meta: meta("name", "Ann", "device", map[string]any{"kind": "phone"}, "n", []any{1.0, 2.0})},
		{name: "online_at and phx_refs are the server's", conn: channels.Conn{ID: "u"},
			payload: `{"meta":{"online_at":1,"phx_ref":"forged","phx_ref_prev":"x","a":1}}`, key: "u", meta: meta("a", 1.0)},
		{name: "an escaped name is matched decoded", conn: channels.Conn{ID: "u"},
			payload: `{"meta":{"online\u005fat":1,"<b>":true}}`, key: "u", meta: meta("<b>", true)},
		{name: "a repeated name: the last wins", conn: channels.Conn{ID: "u"}, payload: `{"meta":{"a":1,"a":2}}`, key: "u", meta: meta("a", 2.0)},
		{name: "a repeated meta: the last wins", conn: channels.Conn{ID: "u"}, payload: `{"meta":[1],"meta":{"b":1}}`, key: "u", meta: meta("b", 1.0)},
		{name: "null meta is none", conn: channels.Conn{ID: "u"}, payload: `{"meta":null}`, key: "u", meta: meta()},
		{name: "empty meta", conn: channels.Conn{ID: "u"}, payload: `{"meta":{}}`, key: "u", meta: meta()},
		{name: "non-object payload", conn: channels.Conn{ID: "u"}, payload: `["meta"]`, key: "u", meta: meta()},
		{name: "meta at the size limit", conn: channels.Conn{ID: "u"}, payload: `{"meta":` + atLimit + `}`, key: "u",
			meta: meta("k", strings.Repeat("x", 64-len(`{"k":""}`)))},
		{name: "spaces do not count toward the limit", conn: channels.Conn{ID: "u"}, payload: `{"meta": { "k" : "` + strings.Repeat("x", 64-len(`{"k":""}`)) + `" } }`, key: "u",
			meta: meta("k", strings.Repeat("x", 64-len(`{"k":""}`)))},
		{name: "meta over the size limit", payload: `{"meta":{"k":"` + strings.Repeat("x", 64-len(`{"k":""}`)+1) + `"}}`,
			refusal: `{"reason":"invalid_meta","message":"meta is 65 bytes, more than the limit of 64"}`},
		{name: "meta an array", payload: `{"meta":[{"a":1}]}`, refusal: `{"reason":"invalid_meta","message":"meta must be a JSON object"}`},
		{name: "meta a string", payload: `{"meta":"{}"}`, refusal: `{"reason":"invalid_meta","message":"meta must be a JSON object"}`},
		{name: "meta a number", payload: `{"meta":1}`, refusal: `{"reason":"invalid_meta","message":"meta must be a JSON object"}`},
		{name: "event_types are checked first", payload: `{"meta":1,"event_types":"x"}`,
			refusal: `{"reason":"invalid_subscription","message":"event_types must be a list of strings"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, p := newPresenceWorld(t, Config{MaxMetaBytes: 64})
			c := w.connect(tt.conn)
			got := c.joinFrames(room, tt.payload)
			if tt.meta == nil {
				if diff := cmp.Diff([]frame{fr(`"1"`, `"1"`, room, "phx_reply", `{"status":"error","response":`+tt.refusal+`}`)}, got); diff != "" {
					t.Errorf("frames (-want +got):\n%s", diff)
				}
				if l := string(p.List(room)); l != "{}" {
					t.Errorf("List after a refused join: %s", l)
				}
				return
			}
			// The ok reply, the diff of the member's own track (it is
			// subscribed already), then the state: as from Phoenix's
			// :after_join, where the diff may come first too.
			if len(got) != 3 || got[0].Event != "phx_reply" || got[1].Event != presence.EventDiff || got[2].Event != presence.EventState {
				t.Fatalf("got %+v, want reply, presence_diff, presence_state", got)
			}
			if got[2].JoinRef != `"1"` || got[2].Ref != "null" || got[1].JoinRef != "null" {
				t.Errorf("state %+v / diff %+v: want the state stamped with the join_ref, the diff a broadcast", got[2], got[1])
			}
			st := presences(t, got[2].Payload)
			if len(st) != 1 {
				t.Fatalf("state %v, want one member", st)
			}
			key := tt.key
			if key == anyKey {
				for k := range st {
					key = k
				}
				if !regexp.MustCompile(`^[A-Z2-7]{26}$`).MatchString(key) {
					t.Errorf("random key %q, want 26 base32 characters", key)
				}
			}
			if diff := cmp.Diff(map[string][]map[string]any{key: {tt.meta}}, st); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			joins := got[1].Payload.(map[string]any)["joins"]
			if diff := cmp.Diff(map[string][]map[string]any{key: {tt.meta}}, presences(t, joins)); diff != "" {
				t.Errorf("diff joins (-want +got):\n%s", diff)
			}
			if _, ok := decodeJSON(string(p.List(room))).(map[string]any)[key]; !ok {
				t.Errorf("List %s lacks %s", p.List(room), key)
			}
		})
	}
}

func TestPresenceOffIgnoresMeta(t *testing.T) {
	w := newWorld(t, Config{})
	c := w.connect(channels.Conn{ID: "u"})
	c.join(room, `{"meta":[1]}`)
	c.expect()
}

func TestRandomKeysDiffer(t *testing.T) {
	w, p := newPresenceWorld(t, Config{})
	for range 3 {
		w.connect(channels.Conn{}).joinFrames(room, `{}`)
	}
	if st := decodeJSON(string(p.List(room))).(map[string]any); len(st) != 3 {
		t.Errorf("three anonymous members listed as %d keys: %v", len(st), st)
	}
}

func TestTwoConnectionsOfOneUserAreTwoMetas(t *testing.T) {
	w, p := newPresenceWorld(t, Config{})
	conn := channels.Conn{Params: map[string]string{"user_id": "ann"}}
	w.connect(conn).joinFrames(room, `{"meta":{"tab":1}}`)
	w.connect(conn).joinFrames(room, `{"meta":{"tab":2}}`)
	got := presences(t, decodeJSON(string(p.List(room))))
	var tabs []any
	for _, m := range got["ann"] {
		tabs = append(tabs, m["tab"])
	}
	if len(got) != 1 || !cmp.Equal(tabs, []any{1.0, 2.0}) {
		t.Errorf("List %v, want ann with tabs 1 and 2", got)
	}
}

// crashing is the events channel, with an event that crashes it.
type crashing struct{ *channel }

func (c crashing) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	if in.Event == "crash" {
		panic("crash requested")
	}
	return c.channel.HandleIn(s, in)
}

// TestPresenceLeaves checks that every way a channel ends untracks its
// member, and that the others see the leave.
func TestPresenceLeaves(t *testing.T) {
	tests := []struct {
		name string
		end  func(c *client)
	}{
		{"leave", func(c *client) { c.send(`["1","3","events:r","phx_leave",{}]`) }},
		{"connection closed", func(c *client) { c.mux.Close() }},
		{"crash", func(c *client) { c.send(`["1","3","events:r","crash",{}]`) }},
		{"stale channel of a rejoin", func(c *client) { c.send(`["9","9","events:r","phx_join",{}]`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, p := newPresenceWorld(t, Config{})
			router := channels.NewRouter()
			router.Handle("events:*", func(topic string) channels.Channel { return crashing{w.svc.Factory()(topic).(*channel)} })
			connect := func(id string) *client {
				tr := &recorder{}
				c := &client{t: t, tr: tr, mux: channels.NewMux(channels.MuxConfig{Router: router, PubSub: w.ps, Transport: tr, Conn: channels.Conn{ID: id}})}
				t.Cleanup(c.mux.Close)
				return c
			}
			stay, goer := connect("stay"), connect("goer")
			stay.joinFrames(room, `{}`)
			goer.joinFrames(room, `{"meta":{"m":1}}`)
			stay.tr.Take()

			tt.end(goer)
			got := decodeFrames(t, stay.tr.Take())
			if len(got) == 0 || got[0].Event != presence.EventDiff {
				t.Fatalf("stay got %+v, want a presence_diff", got)
			}
			d := got[0].Payload.(map[string]any)
			want := map[string][]map[string]any{"goer": {{"online_at": float64(testNow.Unix()), "m": 1.0}}}
			if diff := cmp.Diff(want, presences(t, d["leaves"])); diff != "" || len(d["joins"].(map[string]any)) != 0 {
				t.Errorf("diff %v: want goer's leave only (-want +got leaves):\n%s", d, diff)
			}
			st := presences(t, decodeJSON(string(p.List(room))))
			wantKeys := 1
			if tt.name == "stale channel of a rejoin" {
				wantKeys = 2 // rejoined: tracked again, with a new meta
				if len(got) != 2 || len(presences(t, got[1].Payload.(map[string]any)["joins"])["goer"]) != 1 {
					t.Errorf("stay got %+v, want goer's leave then join", got)
				}
			}
			if len(st) != wantKeys {
				t.Errorf("List %v, want %d members", st, wantKeys)
			}
		})
	}
}

// TestPresenceDiffsPassTheEventTypeFilter checks that a member subscribed
// to some event types still gets presence diffs.
func TestPresenceDiffsPassTheEventTypeFilter(t *testing.T) {
	w, _ := newPresenceWorld(t, Config{})
	a := w.connect(channels.Conn{ID: "a"})
	a.joinFrames(room, `{"event_types":["com.example.*"]}`)
	w.connect(channels.Conn{ID: "b"}).joinFrames(room, `{}`)
	got := decodeFrames(t, a.tr.Take())
	if len(got) != 1 || got[0].Event != presence.EventDiff {
		t.Fatalf("a got %+v, want b's join diff", got)
	}
}

// TestPresenceStateAfterEveryJoin checks the state is pushed with each new
// join_ref, as phoenix.js needs after a rejoin.
func TestPresenceStateAfterEveryJoin(t *testing.T) {
	w, _ := newPresenceWorld(t, Config{})
	c := w.connect(channels.Conn{ID: "a"})
	for i := 1; i <= 3; i++ {
		jr := fmt.Sprint(i * 10)
		m := protocol.Message{JoinRef: protocol.StringRef(jr), Ref: protocol.StringRef(jr), Topic: room, Event: channels.EventJoin, Payload: []byte(`{}`)}
		c.mux.Dispatch(m)
		got := decodeFrames(t, c.tr.Take())
		last := got[len(got)-1]
		if last.Event != presence.EventState || last.JoinRef != quote(jr) {
			t.Fatalf("join %d: got %+v, want a presence_state stamped %q last", i, got, jr)
		}
		if st := presences(t, last.Payload); len(st["a"]) != 1 {
			t.Errorf("join %d: state %v, want a once", i, st)
		}
	}
}
