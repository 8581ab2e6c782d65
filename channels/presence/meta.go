package presence

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrMetaNotObject is returned when a meta is not a JSON object.
var ErrMetaNotObject = errors.New("presence: meta must be a JSON object")

// encodeMeta returns meta (a JSON object, nil meaning {}) with "phx_ref"
// and, when prev is not nil, "phx_ref_prev" added, compacted.
//
// The members are spliced into the raw object rather than decoded. Only a
// meta that might already hold a phx_ref key (or a key spelled with
// escapes) is decoded, once, into map[string]json.RawMessage so that the
// server's refs replace the client's, as Map.put does in Phoenix.
func encodeMeta(meta json.RawMessage, r ref, prev *ref) ([]byte, error) {
	out := make([]byte, 0, len(meta)+len(`,"phx_ref":"","phx_ref_prev":""}`)+2*refLen)
	if len(bytes.TrimSpace(meta)) == 0 {
		out = append(out, '{', '}')
	} else {
		buf := bytes.NewBuffer(out)
		if err := json.Compact(buf, meta); err != nil {
			return nil, err
		}
		out = buf.Bytes()
		if out[0] != '{' {
			return nil, ErrMetaNotObject
		}
		if bytes.Contains(out, []byte("phx_ref")) || bytes.Contains(out, []byte(`\u`)) {
			var members map[string]json.RawMessage
			if err := json.Unmarshal(out, &members); err != nil {
				return nil, err
			}
			delete(members, "phx_ref")
			delete(members, "phx_ref_prev")
			b, err := json.Marshal(members)
			if err != nil {
				return nil, err
			}
			out = b
		}
	}
	out = out[:len(out)-1] // drop '}'
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = append(out, `"phx_ref":"`...)
	out = append(out, r[:]...)
	if prev != nil {
		out = append(out, `","phx_ref_prev":"`...)
		out = append(out, prev[:]...)
	}
	return append(out, '"', '}'), nil
}
