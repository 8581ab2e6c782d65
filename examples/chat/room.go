package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Message is a chat message, as members receive it in "new_msg".
type Message struct {
	Body   string `json:"body"`
	UserID string `json:"user_id"`
}

// Room is one user (the socket id: see main.go) in one room: RoomChannel.
type Room struct {
	presence *presence.Presence
	blocked  sync.Map // user ids whose messages this user does not see
}

// Join lets the user in if the app allows the room (join/3).
func (r *Room) Join(s *channels.Socket, _ []byte) channels.Reply {
	if !allowed(s.Conn().ID, strings.TrimPrefix(s.Topic(), "room:")) {
		return channels.ErrorReason("unauthorized")
	}
	return channels.OK(nil)
}

// AfterJoin: a Track error crashes the channel, as {:ok, _} = would.
func (r *Room) AfterJoin(s *channels.Socket) {
	if err := r.presence.Track(s, s.Conn().ID, fmt.Appendf(nil, `{"online_at":%d}`, time.Now().Unix())); err != nil {
		panic(err)
	}
	_ = r.presence.PushState(s)
}

// HandleIn handles new_msg and block (handle_in/3).
func (r *Room) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	var p Message
	if err := json.Unmarshal(in.Payload, &p); err != nil {
		return channels.Replied(channels.ErrorReason("bad_payload"))
	}
	switch in.Event {
	case "new_msg":
		err := s.BroadcastJSON("new_msg", Message{Body: p.Body, UserID: s.Conn().ID})
		return channels.Replied(channels.OKUnless(err, "not_sent"))
	case "block":
		r.blocked.Store(p.UserID, true)
		return channels.Replied(channels.OK(nil))
	}
	return channels.Replied(channels.ErrorReason("unknown_event"))
}

// FilterBroadcast is handle_out for "new_msg": blocked users' messages stay out.
func (r *Room) FilterBroadcast(_ *channels.Socket, b *pubsub.Broadcast) bool {
	m, err := pubsub.Decode[Message](b)
	_, blocked := r.blocked.Load(m.UserID)
	return err == nil && !blocked
}

// Terminate has nothing to do: members.Wrap untracks the user.
func (r *Room) Terminate(*channels.Socket, channels.Reason) {}
