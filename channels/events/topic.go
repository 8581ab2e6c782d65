package events

import "strings"

// TopicPrefix is the prefix of every events topic; the router pattern is
// TopicPrefix + "*".
const TopicPrefix = "events:"

// maxRoomLen is the longest room name.
const maxRoomLen = 128

// ReasonInvalidTopic is the reason of a join to a malformed events topic.
const ReasonInvalidTopic = "invalid topic"

// roomOf returns the room of an events topic: 1 to 128 characters of
// A-Z a-z 0-9 . _ ~ : @ -.
func roomOf(topic string) (string, bool) {
	room, ok := strings.CutPrefix(topic, TopicPrefix)
	if !ok || len(room) < 1 || len(room) > maxRoomLen {
		return "", false
	}
	for i := 0; i < len(room); i++ {
		if c := room[i]; !isAlpha(c) && !isDigit(c) && strings.IndexByte("._~:@-", c) < 0 {
			return "", false
		}
	}
	return room, true
}

// ValidRoom reports whether room is a valid room name: 1 to 128 characters
// of A-Z a-z 0-9 . _ ~ : @ -.
func ValidRoom(room string) bool {
	_, ok := roomOf(TopicPrefix + room)
	return ok
}
