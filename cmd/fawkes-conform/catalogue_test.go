package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCatalogue checks the built-in catalogue: every file parses, every case
// says what it checks, where the rule is written and since when, belongs to
// a known group, and names only settings the tool has.
func TestCatalogue(t *testing.T) {
	cases, err := loadCatalogue("")
	if err != nil {
		t.Fatal(err)
	}
	areas := map[string]int{}
	specRE := regexp.MustCompile(`^(§\d|events §)`)
	for _, c := range cases {
		areas[c.Area]++
		if !contains(groups, c.Group) {
			t.Errorf("%s: unknown group %q", c.ID(), c.Group)
		}
		if !specRE.MatchString(c.Spec) {
			t.Errorf("%s: spec %q does not start with a section (§N)", c.ID(), c.Spec)
		}
		if !strings.Contains(c.Checks, " ") {
			t.Errorf("%s: checks %q is not a sentence", c.ID(), c.Checks)
		}
	}
	for _, area := range []string{"upgrade", "heartbeat", "join", "joinref", "replies", "unmatched", "v1", "binary", "malformed", "idle", "longpoll", "authtoken", "events", "presence", "token", "origin"} {
		if areas[area] == 0 {
			t.Errorf("no case in area %s", area)
		}
	}
	if len(cases) < 100 {
		t.Errorf("%d cases, want the whole catalogue", len(cases))
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"send [1]", "before the first case"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nexpect [1]", "expect before connect"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nconnect ws\nexpect [1", "invalid JSON"},
		{"case a\nchecks x y\nspec §1\nconnect ws", "has no since"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nconnect ws\nfly away", "unknown verb"},
		{"case a\nchecks x y\nspec §1\nsince one\n", "since"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nconnect ws\nrepeat 2\nsend [1]", "repeat without end"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nconnect ws\nexpect-close 1000 soon", "expect-close CODES"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nneeds nothing\nconnect ws", "unknown setting"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nconnect ws\nsend [1] within 1s", "unexpected"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nconnect ws\n| x", "continuation"},
		{"case a\nchecks x y\nspec §1\nsince 1.0\nconnect ws\ncase a", "defined twice"},
	} {
		_, err := parseCases("t.cases", "t", strings.NewReader(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one mentioning %q", tc.text, err, tc.want)
		}
	}
}

func TestParseSteps(t *testing.T) {
	text := `
# comment
group g
ignore [null,null,"<any>","heartbeat","<any>"]

case one
  checks  a thing happens
  spec    §4.1 x
  since   1.7.22, 1.8.6
  tags    a b
  alice connect ws ?vsn=2.0.0 header='X-A: b c'
  alice send ["1","$i","t","e",{"n":$i}]
  repeat 2
    alice expect [null,"x","t","e",{}] within 2s
  end
  alice send-lines
  |*3 [null,"$i"]
  | last
`
	cases, err := parseCases("f.cases", "f", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c := cases[0]
	if c.ID() != "f/one" || c.Group != "g" || len(c.Ignore) != 1 || !cmp.Equal(c.Since, []string{"1.7.22", "1.8.6"}) || !cmp.Equal(c.Tags, []string{"a", "b"}) {
		t.Fatalf("case %+v", c)
	}
	if len(c.Steps) != 4 || c.Steps[2].Verb != "repeat" || len(c.Steps[2].Block) != 1 {
		t.Fatalf("steps %+v", c.Steps)
	}
	if got := c.Steps[0].Args; !cmp.Equal(got, []string{"ws", "?vsn=2.0.0", "header=X-A: b c"}) {
		t.Errorf("connect args %q", got)
	}
	if got := c.Steps[3].Body; !cmp.Equal(got, []string{`[null,"1"]`, `[null,"2"]`, `[null,"3"]`, "last"}) {
		t.Errorf("body %q", got)
	}
}

func TestMatchJSON(t *testing.T) {
	for _, tc := range []struct {
		pattern, got string
		ok           bool
		captured     vars
	}{
		{`[null,"1","t","e",{"a":1}]`, `[null,"1","t","e",{"a":1.0}]`, true, nil},
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, true, nil},
		{`{"a":1}`, `{"a":1,"b":2}`, false, nil},
		{`{"a":1,"...":true}`, `{"a":1,"b":2}`, true, nil},
		{`{"a":"<string:x>"}`, `{"a":"v"}`, true, vars{"x": "v"}},
		{`{"a":"<string>"}`, `{"a":1}`, false, nil},
		{`{"a":"<any:x>"}`, `{"a":{"b":[1]}}`, true, vars{"x": `{"b":[1]}`}},
		{`["<nonempty>"]`, `[""]`, false, nil},
		{`["<timestamp>"]`, `["2026-11-25T20:32:07.721038Z"]`, true, nil},
		{`["<timestamp>"]`, `["yesterday"]`, false, nil},
		{`{"<any:k>":{"m":1}}`, `{"alice":{"m":1}}`, true, vars{"k": "alice"}},
		{`{"<any:k1>":{"m":1},"<any:k2>":{"m":2}}`, `{"a":{"m":2},"b":{"m":1}}`, true, vars{"k1": "b", "k2": "a"}},
		{`{"<any>":{"m":1}}`, `{"a":{"m":1},"b":{"m":1}}`, false, nil},
		{`{"messages":[[1,"x"]]}`, `{"messages":["[1,\"x\"]"]}`, true, nil},
		{`[1,2]`, `[1,2,3]`, false, nil},
		{`[null]`, `[false]`, false, nil},
	} {
		var p, g any
		if err := json.Unmarshal([]byte(tc.pattern), &p); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.got), &g); err != nil {
			t.Fatal(err)
		}
		captured := vars{}
		m := matchJSON(p, g, captured)
		if (m == nil) != tc.ok {
			t.Errorf("%s vs %s: mismatch %v, want ok=%v", tc.pattern, tc.got, m, tc.ok)
		}
		if tc.captured != nil && !cmp.Equal(captured, tc.captured) {
			t.Errorf("%s vs %s: captured %v, want %v", tc.pattern, tc.got, captured, tc.captured)
		}
	}
}

func TestMismatchNamesThePath(t *testing.T) {
	var p, g any
	_ = json.Unmarshal([]byte(`[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]`), &p)
	_ = json.Unmarshal([]byte(`[null,"1","phoenix","phx_reply",{"status":"error","response":{}}]`), &g)
	m := matchJSON(p, g, vars{})
	if m == nil || m.String() != `at [4].status: expected "ok", got "error"` {
		t.Errorf("mismatch %v", m)
	}
}

func TestExpand(t *testing.T) {
	v := vars{"uid": "u1", "n": "3", "idle_timeout": "2s"}
	got, err := v.expand(`["$uid","${uid}x","$pad(2)","$pad($n)"]`)
	if err != nil || got != `["u1","u1x","xx","xxx"]` {
		t.Errorf("expand: %q, %v", got, err)
	}
	if _, err := v.expand("$nope"); err == nil {
		t.Error("an unknown variable expanded")
	}
	for expr, want := range map[string]time.Duration{
		"300ms":              300 * time.Millisecond,
		"$idle_timeout/2":    time.Second,
		"$idle_timeout*3/2":  3 * time.Second,
		"$idle_timeout+5s":   7 * time.Second,
		"$idle_timeout*9/10": 1800 * time.Millisecond,
	} {
		if d, err := v.duration(expr); err != nil || d != want {
			t.Errorf("duration(%q) = %v, %v; want %v", expr, d, err, want)
		}
	}
}

func TestHasBehaviour(t *testing.T) {
	v := func(s string) version {
		x, err := parseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, tc := range []struct {
		target string
		since  []string
		want   bool
	}{
		{"1.8.3", []string{"1.8.3"}, true},
		{"1.8.2", []string{"1.8.3"}, false},
		{"1.7", []string{"1.8.3"}, false},
		{"1.9.0", []string{"1.8.3"}, true},
		{"1.8.12", []string{"1.3.0"}, true},
		{"1.7.30", []string{"1.7.22", "1.8.6"}, true},
		{"1.7.21", []string{"1.7.22", "1.8.6"}, false},
		{"1.8.2", []string{"1.7.22", "1.8.6"}, false},
		{"1.8.6", []string{"1.7.22", "1.8.6"}, true},
		{"1.6.0", []string{"1.7.22", "1.8.6"}, false},
		{"2.0", []string{"1.7.22", "1.8.6"}, true},
	} {
		var since []version
		for _, s := range tc.since {
			since = append(since, v(s))
		}
		if got := hasBehaviour(v(tc.target), since); got != tc.want {
			t.Errorf("hasBehaviour(%s, %v) = %v, want %v", tc.target, tc.since, got, tc.want)
		}
	}
}

// TestBinaryGolden encodes and decodes the golden binary frames that the
// protocol package and phoenix.js are checked against.
func TestBinaryGolden(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/golden/v2_binary.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Frames []struct {
			Name, Direction, Kind, Hex string
			Message                    struct {
				JoinRef    *string `json:"join_ref"`
				Ref        *string `json:"ref"`
				Topic      string  `json:"topic"`
				Event      string  `json:"event"`
				Status     string  `json:"status"`
				PayloadHex string  `json:"payload_hex"`
			}
		}
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	ref := func(s *string) any {
		if s == nil {
			return nil
		}
		return *s
	}
	for _, f := range file.Frames {
		m := f.Message
		payload := "hex:" + m.PayloadHex
		if f.Direction == "client" {
			got, err := encodeClientPush([]any{ref(m.JoinRef), ref(m.Ref), m.Topic, m.Event, payload})
			if err != nil || hex.EncodeToString(got) != f.Hex {
				t.Errorf("%s: encoded %x, %v; want %s", f.Name, got, err, f.Hex)
			}
			continue
		}
		b, _ := hex.DecodeString(f.Hex)
		got, err := decodeServerBinary(b)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		want := []any{ref(m.JoinRef), ref(m.Ref), m.Topic, m.Event, any(payload)}
		if f.Kind == "reply" {
			want[4] = map[string]any{"status": m.Status, "response": payload}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", f.Name, diff)
		}
	}
}

// TestSignToken checks the minted token against a vector made by the real
// plug_crypto (docs/protocol.md §9).
func TestSignToken(t *testing.T) {
	got, err := signToken(strings.Repeat("abcdefgh", 8), "user socket", "user:42", time.Unix(1_700_000_000, 0), 86400)
	const want = "SFMyNTY.g2gDbQAAAAd1c2VyOjQybgYAAGjlz4sBYgABUYA.WmSMerRggmj2qSPGLa6lPsfc52fbn49MjIm13KtAchE"
	if err != nil || got != want {
		t.Errorf("signToken = %q, %v; want %q", got, err, want)
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		ok   bool
	}{
		{"application/json*", "application/json; charset=utf-8", true},
		{"*no-store*", "private, no-store", true},
		{"phoenix", "phoenix", true},
		{"phoenix", "phoenix2", false},
		{"a*c", "abc", true},
		{"a*c", "abd", false},
	} {
		if got := globMatch(tc.p, tc.s); got != tc.ok {
			t.Errorf("globMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}
