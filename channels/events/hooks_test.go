package events

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRejectedHookGetsEveryRejectionReason(t *testing.T) {
	var reasons []string
	w := newWorld(t, Config{Rejected: func(r string) { reasons = append(reasons, r) }})
	c := w.connect(connWith("", ""))
	c.join("events:lobby", `{}`)
	c.push("events:lobby", "cloudevent", `{"specversion":"1.0"}`)
	c.push("events:lobby", "subscribe", `{"event_types":[""]}`)
	c.push("events:lobby", "dance", `{}`)
	c.push("events:lobby", "cloudevent", validEvent("1", "a.b"))
	c.push("events:lobby", "ping", `{}`)
	want := []string{ReasonInvalidCloudEvent, ReasonInvalidSubscription, ReasonUnknownEvent}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Fatalf("Rejected reasons (-want +got):\n%s", diff)
	}
	if n := channelOf(t, w).errors; n != len(want) {
		t.Fatalf("channel error count %d, want %d", n, len(want))
	}
}

func TestValidRoom(t *testing.T) {
	for room, want := range map[string]bool{
		"lobby": true, "a.b_c~d:e@f-9": true, "": false, "a/b": false, "a b": false,
		string(make([]byte, 129)): false,
	} {
		if got := ValidRoom(room); got != want {
			t.Errorf("ValidRoom(%q) = %v, want %v", room, got, want)
		}
	}
}
