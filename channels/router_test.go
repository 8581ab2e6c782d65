package channels_test

import (
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
)

// named is a Channel that only tells which route made it.
type named string

func (named) Join(*channels.Socket, []byte) channels.Reply                { return channels.OK(nil) }
func (named) HandleIn(*channels.Socket, channels.Inbound) channels.Result { return channels.NoReply() }
func (named) Terminate(*channels.Socket, channels.Reason)                 {}
func route(name string) channels.Factory                                  { return func(string) channels.Channel { return named(name) } }
func matched(r *channels.Router, topic string) string {
	f := r.Match(topic)
	if f == nil {
		return ""
	}
	return string(f(topic).(named))
}

func TestRouterPatterns(t *testing.T) {
	r := channels.NewRouter()
	r.Handle("room:lobby", route("lobby"))
	r.Handle("room:*", route("rooms"))
	r.Handle("events:*", route("events"))
	r.Handle("events:special", route("shadowed")) // after events:*, never wins
	r.Handle("exact", route("exact"))

	for topic, want := range map[string]string{
		"room:lobby":     "lobby", // first match wins
		"room:42":        "rooms",
		"room:":          "rooms", // empty subtopic, as in Phoenix
		"room":           "",      // the prefix includes the colon
		"events:special": "events",
		"events:a:b":     "events",
		"exact":          "exact",
		"exactly":        "",
		"exac":           "",
		"":               "",
		"ROOM:1":         "", // case-sensitive
	} {
		if got := matched(r, topic); got != want {
			t.Errorf("Match(%q) = %q, want %q", topic, got, want)
		}
	}
}

func TestRouterCatchAll(t *testing.T) {
	r := channels.NewRouter()
	r.Handle("*", route("all"))
	for _, topic := range []string{"", "a", "room:1"} {
		if got := matched(r, topic); got != "all" {
			t.Errorf("Match(%q) = %q, want all", topic, got)
		}
	}
}

func TestRouterEmptyAndNil(t *testing.T) {
	if f := channels.NewRouter().Match("room:1"); f != nil {
		t.Error("empty Router matched")
	}
	var r *channels.Router
	if f := r.Match("room:1"); f != nil {
		t.Error("nil Router matched")
	}
}
