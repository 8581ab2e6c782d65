package events

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
)

// DefaultMaxMetaBytes is the default of Config.MaxMetaBytes.
const DefaultMaxMetaBytes = 1024

// ReasonInvalidMeta is the reason of a join refused for its "meta".
const ReasonInvalidMeta = "invalid_meta"

// ParamUserID is the connect param that keys presence on a connection
// without a socket id.
const ParamUserID = "user_id"

// presenceKey returns the key a member of conn is tracked under.
func presenceKey(conn *channels.Conn) string {
	if conn.ID != "" {
		return conn.ID
	}
	if id := conn.Params[ParamUserID]; id != "" {
		return id
	}
	return rand.Text()
}

// presenceMeta returns the meta to track for a join payload (a JSON
// object), or the message of an invalid_meta refusal.
func presenceMeta(payload []byte, now time.Time, maxBytes int) (json.RawMessage, string) {
	out := make([]byte, 0, 64)
	out = append(out, `{"online_at":`...)
	out = strconv.AppendInt(out, now.Unix(), 10)
	var buf [8]member
	members, serr := scanObject(payload, buf[:0])
	if serr != scanOK {
		return append(out, '}'), ""
	}
	var meta *member
	for i := range members {
		if members[i].name == "meta" {
			meta = &members[i] // the last one wins, as in JSON.parse
		}
	}
	if meta == nil || meta.kind == kindNull {
		return append(out, '}'), ""
	}
	if meta.kind != kindObject {
		return nil, "meta must be a JSON object"
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, meta.raw) // valid: scanObject checked it
	if compact.Len() > maxBytes {
		return nil, fmt.Sprintf("meta is %d bytes, more than the limit of %d", compact.Len(), maxBytes)
	}
	fields, _ := scanObject(compact.Bytes(), nil)
	last := make(map[string]int, len(fields))
	for i, f := range fields {
		last[f.name] = i
	}
	for i, f := range fields {
		switch {
		case last[f.name] != i: // a duplicate name: the last one wins
		case f.name == "online_at", f.name == "phx_ref", f.name == "phx_ref_prev":
		default:
			name, _ := json.Marshal(f.name) // a string always marshals
			out = append(out, ',')
			out = append(out, name...)
			out = append(out, ':')
			out = append(out, f.raw...)
		}
	}
	return append(out, '}'), ""
}

// trackPresence runs in AfterJoin: with presence on, it tracks the member
// and pushes the topic's presence_state.
func (c *channel) trackPresence(s *channels.Socket) {
	p := c.svc.cfg.Presence
	if p == nil {
		return
	}
	if err := p.Track(s, c.presenceKey, c.presenceMeta); err != nil {
		c.svc.cfg.Logger.Warn().Err(err).Str("topic", c.topic).Str("presence_key", c.presenceKey).Msg("presence not tracked")
	}
	c.presenceMeta = nil
	if err := p.PushState(s); err != nil {
		c.svc.cfg.Logger.Debug().Err(err).Str("topic", c.topic).Msg("presence_state not pushed")
	}
}
