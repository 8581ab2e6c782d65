package presenceredis

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels/presence"
)

// A presence survives the trip through Redis: field and value decode to
// the node, key, ref and meta stored, keys with quotes and non-ASCII too.
func TestStoredPresenceRoundTrip(t *testing.T) {
	for _, key := range []string{"alice", `qu"ote`, "é\u2028", "", "a:b"} {
		m := presence.Member{Key: key, Ref: "GOtj_v1-KnJ0-AOx", Meta: []byte(`{"n":1,"phx_ref":"GOtj_v1-KnJ0-AOx"}`)}
		node, got, err := decodeMember(field("NODEid_-", m.Ref), encodeValue(m))
		if err != nil {
			t.Fatalf("%q: %v", key, err)
		}
		if node != "NODEid_-" {
			t.Errorf("%q: node %q", key, node)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("%q (-stored +decoded):\n%s", key, diff)
		}
	}
	for _, bad := range [][2]string{{"noColon", `{"key":"k","meta":{}}`}, {"n:r", `not json`}, {"n:r", `{"key":"k","meta":[1]}`}, {"n:r", `{"key":"k"}`}} {
		if _, _, err := decodeMember(bad[0], bad[1]); err == nil {
			t.Errorf("decodeMember(%q, %q) accepted it", bad[0], bad[1])
		}
	}
}
