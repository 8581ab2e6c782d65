package presence

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
)

// remoteDiff is a presence_diff as another node published it, decoded.
type remoteDiff struct {
	joins, leaves []remoteMeta
}

// remoteMeta is one meta of a diff or of a snapshot: a presence of any
// node, not tied to a socket of this one.
type remoteMeta struct {
	key string
	raw []byte // the meta object, phx_ref included
	ref ref
}

var errDiff = errors.New("presence: malformed presence_diff")

// parseDiff decodes {"joins":{...},"leaves":{...}}, keeping keys and metas
// in the order they come in (the order phoenix.js applies them in). Metas
// without a phx_ref of the right length are skipped: no client could match
// them either.
func parseDiff(payload []byte) (*remoteDiff, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errDiff
	}
	d := &remoteDiff{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errDiff
		}
		var side *[]remoteMeta
		switch tok {
		case "joins":
			side = &d.joins
		case "leaves":
			side = &d.leaves
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, errDiff
			}
			continue
		}
		if err := parseSide(dec, side); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// parseSide decodes {"<key>":{"metas":[...]},...} into out.
func parseSide(dec *json.Decoder, out *[]remoteMeta) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errDiff
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errDiff
		}
		key, _ := tok.(string)
		var entry struct {
			Metas []json.RawMessage `json:"metas"`
		}
		if err := dec.Decode(&entry); err != nil {
			return errDiff
		}
		for _, raw := range entry.Metas {
			if r, ok := metaRef(raw); ok {
				*out = append(*out, remoteMeta{key: key, raw: raw, ref: r})
			}
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return errDiff
	}
	return nil
}

// metaRef returns the phx_ref of a meta object.
func metaRef(raw []byte) (ref, bool) {
	var v struct {
		Ref string `json:"phx_ref"`
	}
	var r ref
	if json.Unmarshal(raw, &v) != nil || len(v.Ref) != refLen {
		return r, false
	}
	copy(r[:], v.Ref)
	return r, true
}

// toRemote converts a stored member; false if its ref is malformed.
func toRemote(m Member) (remoteMeta, bool) {
	var r ref
	if len(m.Ref) != refLen {
		return remoteMeta{}, false
	}
	copy(r[:], m.Ref)
	return remoteMeta{key: m.Key, raw: m.Meta, ref: r}, true
}

// encodeDiff encodes {"joins":{...},"leaves":{...}} with the metas of each
// key together, keys in order of first appearance.
func encodeDiff(joins, leaves []remoteMeta) []byte {
	n := len(`{"joins":{},"leaves":{}}`)
	for _, m := range joins {
		n += len(m.key) + len(m.raw) + len(`"":{"metas":[]},`)
	}
	for _, m := range leaves {
		n += len(m.key) + len(m.raw) + len(`"":{"metas":[]},`)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"joins":`...)
	b = appendGrouped(b, joins)
	b = append(b, `,"leaves":`...)
	b = appendGrouped(b, leaves)
	return append(b, '}')
}

// appendGrouped appends {"<key>":{"metas":[...]},...}.
func appendGrouped(b []byte, metas []remoteMeta) []byte {
	b = append(b, '{')
	done := make(map[string]bool, len(metas))
	for i, m := range metas {
		if done[m.key] {
			continue
		}
		done[m.key] = true
		if len(done) > 1 {
			b = append(b, ',')
		}
		q, _ := json.Marshal(m.key) // a string always marshals
		b = append(b, q...)
		b = append(b, `:{"metas":[`...)
		b = append(b, m.raw...)
		for _, o := range metas[i+1:] {
			if o.key == m.key {
				b = append(b, ',')
				b = append(b, o.raw...)
			}
		}
		b = append(b, ']', '}')
	}
	return append(b, '}')
}

// refRank orders the characters of URL-safe base64 by the bits they stand
// for, so that comparing refs character by character compares the bytes
// they encode: their timestamps first.
var refRank = func() (rank [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(alphabet) {
		rank[alphabet[i]] = byte(i)
	}
	return rank
}()

// compareRefs orders refs by the time they were made (then node and
// counter).
func compareRefs[T string | []byte](a, b T) int {
	for i := range min(len(a), len(b)) {
		if c := int(refRank[a[i]]) - int(refRank[b[i]]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// sortMembers puts members in the order they were tracked, as near as
// their refs tell: a store returns them in any order.
func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int { return compareRefs(a.Ref, b.Ref) })
}

func sortMetas(ms []remoteMeta) {
	slices.SortFunc(ms, func(a, b remoteMeta) int { return compareRefs(a.ref[:], b.ref[:]) })
}
