package presence

import (
	"bytes"
	"testing"
)

// FuzzParseDiff: parseDiff never panics, and what it decodes encodes back
// (encodeDiff) to a diff that decodes to the same metas, keys grouped.
func FuzzParseDiff(f *testing.F) {
	f.Add([]byte(`{"joins":{"alice":{"metas":[{"phx_ref":"GOtj_v1-KnJ0-AOx","phx_ref_prev":"GOtj_tLc6xh0-AOB","status":"away"}]}},"leaves":{"alice":{"metas":[{"phx_ref":"GOtj_tLc6xh0-AOB","status":"online"}]}}}`))
	f.Add([]byte(`{"joins":{},"leaves":{"u1":{"metas":[{"phx_ref":"AAAAAAAAAAAAAAAA"},{"phx_ref":"AAAAAAAAAAAAAAAB"}]},"\u00e9\"":{"metas":[{"phx_ref":"BBBBBBBBBBBBBBBB"}]}}}`))
	f.Add([]byte(`{"joins":{"k":{"metas":[{"phx_ref":"short"}],"extra":1}},"other":[1,2]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := parseDiff(payload)
		if err != nil {
			return
		}
		again, err := parseDiff(encodeDiff(d.joins, d.leaves))
		if err != nil {
			t.Fatalf("re-encoded diff does not parse: %v", err)
		}
		same := func(a, b []remoteMeta) bool {
			if len(a) != len(b) {
				return false
			}
			// encodeDiff groups a key's metas: compare per key, in order.
			for _, key := range keysOf(a) {
				x, y := metasOf(a, key), metasOf(b, key)
				if len(x) != len(y) {
					return false
				}
				for i := range x {
					if x[i].ref != y[i].ref || !bytes.Equal(x[i].raw, y[i].raw) {
						return false
					}
				}
			}
			return true
		}
		if !same(d.joins, again.joins) || !same(d.leaves, again.leaves) {
			t.Fatalf("round trip changed the diff: %+v -> %+v", d, again)
		}
	})
}

func keysOf(ms []remoteMeta) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range ms {
		if !seen[m.key] {
			seen[m.key] = true
			out = append(out, m.key)
		}
	}
	return out
}

func metasOf(ms []remoteMeta, key string) []remoteMeta {
	var out []remoteMeta
	for _, m := range ms {
		if m.key == key {
			out = append(out, m)
		}
	}
	return out
}

// Refs order by the time they were made, whatever their characters.
func TestCompareRefsFollowsTime(t *testing.T) {
	src := newRefSource()
	prev := src.next()
	for range 1000 {
		r := src.next()
		if compareRefs(prev[:], r[:]) >= 0 {
			t.Fatalf("ref %q made after %q sorts before it", r[:], prev[:])
		}
		prev = r
	}
}
