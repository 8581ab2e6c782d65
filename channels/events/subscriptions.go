package events

import (
	"fmt"
	"slices"
	"unicode/utf8"
)

// MaxPatternLen is the longest event type pattern, in characters.
const MaxPatternLen = 256

// ReasonInvalidSubscription is the reason of a rejected subscribe or
// unsubscribe payload.
const ReasonInvalidSubscription = "invalid_subscription"

// errNoList is the message for a payload without a list of strings.
const errNoList = "event_types must be a list of strings"

// parseEventTypes reads the "event_types" list of a payload. present is
// false when the payload has no such member, or it is null. msg is set
// when the payload is bad.
func parseEventTypes(payload []byte) (patterns []string, present bool, msg string) {
	var buf [4]member
	members, serr := scanObject(payload, buf[:0])
	if serr != scanOK {
		return nil, false, ""
	}
	var list *member
	for i := range members {
		if members[i].name == "event_types" {
			list = &members[i] // the last one wins, as in JSON.parse
		}
	}
	if list == nil || list.kind == kindNull {
		return nil, false, ""
	}
	if list.kind != kindArray {
		return nil, true, errNoList
	}
	n := 0
	_, _ = scanner.Elements(list.raw, 0, func(tok []byte) { // valid: scanObject checked it
		if msg == "" {
			var p string
			if p, msg = eventType(n, tok); msg == "" {
				patterns = append(patterns, p)
			}
		}
		n++
	})
	if msg != "" {
		return nil, true, msg
	}
	return patterns, true, ""
}

// eventType returns the pattern of element n of an event_types list, or
// a message saying why it is not one.
func eventType(n int, tok []byte) (pattern, msg string) {
	if tok[0] != '"' {
		return "", fmt.Sprintf("event_types[%d] must be a string", n)
	}
	p := unquote(tok)
	switch l := utf8.RuneCountInString(p); {
	case l == 0:
		return "", fmt.Sprintf("event_types[%d] must not be empty", n)
	case l > MaxPatternLen:
		return "", fmt.Sprintf("event_types[%d] is longer than %d characters", n, MaxPatternLen)
	}
	return p, ""
}

// eventTypesList reads the list of a subscribe or unsubscribe payload,
// where it is required.
func eventTypesList(payload []byte) ([]string, string) {
	patterns, present, msg := parseEventTypes(payload)
	if msg == "" && !present {
		msg = errNoList
	}
	return patterns, msg
}

// subscribe returns current plus the new patterns not in it, in order of
// first subscription, or a message when that exceeds max.
func subscribe(current, add []string, max int) ([]string, string) {
	next := slices.Clone(current)
	for _, p := range add {
		if slices.Contains(next, p) {
			continue
		}
		if len(next) == max {
			return nil, fmt.Sprintf("at most %d event types per channel", max)
		}
		next = append(next, p)
	}
	return next, ""
}

// unsubscribe returns current without the patterns listed.
func unsubscribe(current, remove []string) []string {
	return slices.DeleteFunc(slices.Clone(current), func(p string) bool { return slices.Contains(remove, p) })
}
