package events

import (
	"errors"
	"strings"
	"testing"
)

func TestJoin(t *testing.T) {
	long := strings.Repeat("a", 128)
	tests := []struct {
		name      string
		topic     string
		payload   string
		authorize func(JoinRequest) error
		status    string
		response  string
	}{
		{name: "lobby", topic: "events:lobby", payload: `{}`, status: "ok", response: `{}`},
		{name: "room", topic: "events:room-1", payload: `{}`, status: "ok", response: `{}`},
		{name: "room of every allowed character", topic: "events:AZaz09._~:@-", payload: `{}`, status: "ok", response: `{}`},
		{name: "room of 128 characters", topic: "events:" + long, payload: `{}`, status: "ok", response: `{}`},
		{name: "empty room", topic: "events:", payload: `{}`, status: "error", response: `{"reason":"invalid topic"}`},
		{name: "room of 129 characters", topic: "events:" + long + "a", payload: `{}`, status: "error", response: `{"reason":"invalid topic"}`},
		{name: "room with a space", topic: "events:a b", payload: `{}`, status: "error", response: `{"reason":"invalid topic"}`},
		{name: "room with a slash", topic: "events:a/b", payload: `{}`, status: "error", response: `{"reason":"invalid topic"}`},
		{name: "room with a star", topic: "events:*", payload: `{}`, status: "error", response: `{"reason":"invalid topic"}`},
		{name: "room with non-ASCII", topic: "events:café", payload: `{}`, status: "error", response: `{"reason":"invalid topic"}`},
		{name: "invalid topic before authorization", topic: "events:", payload: `{}`,
			authorize: func(JoinRequest) error { return Refuse("should not be asked") },
			status:    "error", response: `{"reason":"invalid topic"}`},
		{name: "unauthorized", topic: "events:secret", payload: `{}`,
			authorize: func(JoinRequest) error { return errors.New("internal detail") },
			status:    "error", response: `{"reason":"unauthorized"}`},
		{name: "lobby goes through the hook", topic: "events:lobby", payload: `{}`,
			authorize: func(JoinRequest) error { return errors.New("no") },
			status:    "error", response: `{"reason":"unauthorized"}`},
		{name: "the hook's public reason", topic: "events:full", payload: `{}`,
			authorize: func(JoinRequest) error { return Refuse("room_full") },
			status:    "error", response: `{"reason":"room_full"}`},
		{name: "a wrapped public reason", topic: "events:full", payload: `{}`,
			authorize: func(JoinRequest) error { return errors.Join(errors.New("x"), Refuse("room_full")) },
			status:    "error", response: `{"reason":"room_full"}`},
		{name: "the hook sees topic, room, payload and conn", topic: "events:r1", payload: `{"token":"t"}`,
			authorize: func(r JoinRequest) error {
				if r.Topic != "events:r1" || r.Room != "r1" || string(r.Payload) != `{"token":"t"}` || r.Conn.Params["token"] != "p" || r.Conn.Assigns["user"] != "u" {
					return errors.New("unexpected request")
				}
				return nil
			},
			status: "ok", response: `{}`},
		{name: "the hook sees {} for a non-object payload", topic: "events:r1", payload: `[1]`,
			authorize: func(r JoinRequest) error {
				if string(r.Payload) != `{}` {
					return errors.New("unexpected payload")
				}
				return nil
			},
			status: "ok", response: `{}`},
		{name: "event_types at join", topic: "events:r", payload: `{"event_types":["a.*","b","a.*"]}`, status: "ok", response: `{"event_types":["a.*","b"]}`},
		{name: "empty event_types at join", topic: "events:r", payload: `{"event_types":[]}`, status: "ok", response: `{"event_types":[]}`},
		{name: "null event_types at join", topic: "events:r", payload: `{"event_types":null}`, status: "ok", response: `{}`},
		{name: "bad event_types at join", topic: "events:r", payload: `{"event_types":"a"}`, status: "error",
			response: `{"reason":"invalid_subscription","message":"event_types must be a list of strings"}`},
		{name: "too many event_types at join", topic: "events:r", payload: `{"event_types":["a","b","c","d"]}`, status: "error",
			response: `{"reason":"invalid_subscription","message":"at most 3 event types per channel"}`},
		{name: "non-object payload: array", topic: "events:r", payload: `["event_types"]`, status: "ok", response: `{}`},
		{name: "non-object payload: string", topic: "events:r", payload: `"x"`, status: "ok", response: `{}`},
		{name: "non-object payload: null", topic: "events:r", payload: `null`, status: "ok", response: `{}`},
		{name: "non-object payload: number", topic: "events:r", payload: `12`, status: "ok", response: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, Config{Authorize: tt.authorize, MaxPatterns: 3})
			c := w.connect(connWith("p", "u"))
			c.send(`["1","1",` + quote(tt.topic) + `,"phx_join",` + tt.payload + `]`)
			c.expect(fr(`"1"`, `"1"`, tt.topic, "phx_reply", `{"status":"`+tt.status+`","response":`+tt.response+`}`))
			wantMembers := 0
			if tt.status == "ok" {
				wantMembers = 1
			}
			if got := len(w.svc.Topics()); got != wantMembers {
				t.Errorf("topics with members = %d, want %d", got, wantMembers)
			}
		})
	}
}

func TestUnmatchedTopicNeverReachesTheChannel(t *testing.T) {
	w := newWorld(t, Config{})
	c := w.connect(connWith("", ""))
	c.send(`["1","1","eventsx:lobby","phx_join",{}]`)
	c.expect(fr("null", `"1"`, "eventsx:lobby", "phx_reply", `{"status":"error","response":{"reason":"unmatched topic"}}`))
}
