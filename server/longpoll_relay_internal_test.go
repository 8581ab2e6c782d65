package server

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLPRelayRequestRoundTrip(t *testing.T) {
	for _, q := range []lpRequest{
		{method: lpMethodGet, token: "node-a.AAAA.BBBB"},
		{method: lpMethodPost, token: "n.i.m", contentType: "application/x-ndjson", body: []byte("[\"1\"]\nAAEB")},
		{method: lpMethodPost, body: bytes.Repeat([]byte("x"), 300)},
	} {
		b := appendLPRequest(nil, q)
		got, err := decodeLPRequest(b)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if got.method != q.method || got.token != q.token || got.contentType != q.contentType || !bytes.Equal(got.body, q.body) {
			t.Fatalf("round trip of %+v gave %+v", q, got)
		}
	}
}

func TestLPRelayAnswerRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		a         lpAnswer
		noSession bool
	}{
		{lpAnswer{status: 200, token: "t", messages: []string{`["1","1","t","phx_reply",{}]`, "", "é"}}, false},
		{lpAnswer{status: 204, token: "t", messages: []string{}}, false},
		{lpAnswer{status: 410, messages: []string{}}, false}, // no token, empty messages
		{lpAnswer{status: 410}, false},                       // POST: status only
		{lpAnswer{status: 408}, false},
		{lpAnswer{}, true},
	} {
		b := appendLPAnswer(nil, tc.a, tc.noSession)
		got, noSession, err := decodeLPAnswer(b)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if noSession != tc.noSession || (got.messages == nil) != (tc.a.messages == nil) {
			t.Fatalf("round trip of %+v (no session %v) gave %+v (%v)", tc.a, tc.noSession, got, noSession)
		}
		if diff := cmp.Diff(tc.a, got, cmp.AllowUnexported(lpAnswer{})); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestLPRelayDecodeRejects(t *testing.T) {
	answers := map[string][]byte{
		"empty":             nil,
		"version_2":         {2, 0, 200, 1, 0},
		"unknown_flag":      {1, 4, 200, 1, 0},
		"status_0":          {1, 0, 0, 0},
		"status_over_999":   {1, 0, 0xe8, 0x07, 0},
		"token_short":       {1, 0, 200, 1, 5, 'a'},
		"count_over_rest":   {1, lpHasMessages, 200, 1, 0, 100, 0},
		"message_short":     {1, lpHasMessages, 200, 1, 0, 1, 3, 'a'},
		"trailing_bytes":    {1, 0, 200, 1, 0, 'x'},
		"truncated_varint":  {1, 0, 0xff},
		"no_session_status": {1, lpNoSession, 0xc8, 0x01, 0, 'x'},
	}
	for name, b := range answers {
		if a, _, err := decodeLPAnswer(b); err == nil {
			t.Errorf("answer %s %v decoded as %+v", name, b, a)
		}
	}
	requests := map[string][]byte{
		"empty":          nil,
		"version_2":      {2, lpMethodGet, 0, 0},
		"unknown_method": {1, 'D', 0, 0},
		"token_short":    {1, lpMethodGet, 9, 'a'},
		"no_type":        {1, lpMethodGet, 0},
	}
	for name, b := range requests {
		if q, err := decodeLPRequest(b); err == nil {
			t.Errorf("request %s %v decoded as %+v", name, b, q)
		}
	}
}

// FuzzLPRelayDecode checks that the decoders never panic and that what
// they accept encodes back to the same bytes.
func FuzzLPRelayDecode(f *testing.F) {
	f.Add(appendLPRequest(nil, lpRequest{method: lpMethodPost, token: "a.b.c", contentType: "application/x-ndjson", body: []byte("[1]")}))
	f.Add(appendLPAnswer(nil, lpAnswer{status: 200, token: "a.b.c", messages: []string{"[1]", "[2]"}}, false))
	f.Add(appendLPAnswer(nil, lpAnswer{}, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, err := decodeLPRequest(b); err == nil {
			if again := appendLPRequest(nil, q); !bytes.Equal(again, b) {
				t.Fatalf("request %q re-encodes as %q", b, again)
			}
		}
		if a, noSession, err := decodeLPAnswer(b); err == nil {
			if again := appendLPAnswer(nil, a, noSession); !bytes.Equal(again, b) {
				t.Fatalf("answer %q re-encodes as %q", b, again)
			}
		}
	})
}
