package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The tool must be able to fail: small servers with one deliberate mistake
// each (miniserver_test.go) fail exactly the cases that check the broken
// rule, with the first mismatch in the message, and pass the others.

// miniCases are the cases the mini server implements.
var miniCases = []string{
	"heartbeat/reply", "heartbeat/reply-join-ref-null", "heartbeat/numeric-ref", "heartbeat/ping-pong",
	"join/ok", "join/reply-before-channel-output", "join/refused", "join/leave", "join/leave-unjoined",
	"replies/echo", "replies/push-then-reply", "replies/reply-stamped-with-channel-join-ref", "replies/stop",
	"joinref/stale-event-dropped", "joinref/stale-leave-ignored",
	"unmatched/join", "unmatched/event-on-unjoined-topic",
	"authtoken/phoenix-subprotocol-echoed",
	"malformed/not-json", "malformed/object-on-v2",
	"idle/closes-silent-connection", "idle/close-code-not-1000",
	"longpoll/new-session", "longpoll/join-and-poll", "longpoll/post-without-session",
}

var miniRun = "^(" + regexp.QuoteMeta(strings.Join(miniCases, "\x00")) + ")$"

func init() { miniRun = strings.ReplaceAll(miniRun, "\x00", "|") }

// runMini runs miniCases against a mini server with f and returns the JSON
// report.
func runMini(t *testing.T, f flaws) (int, *report) {
	t.Helper()
	url := startMini(t, f)
	code, out := conform(t, "-url", url, "-run", miniRun, "-idle-timeout", "1s", "-longpoll-window", "1s", "-json")
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out)
	}
	if rep.Total != len(miniCases) {
		t.Fatalf("%d cases ran, want %d: is a name in miniCases wrong?", rep.Total, len(miniCases))
	}
	return code, &rep
}

func TestMiniServerPasses(t *testing.T) {
	code, rep := runMini(t, flaws{})
	for _, c := range rep.Cases {
		if c.Result != resultPass {
			t.Errorf("%s: %s %+v", c.ID, c.Result, c.Failure)
		}
	}
	if code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

func TestBrokenServersFailTheRightCases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flaws flaws
		fail  map[string]string // case -> a piece of its failure message
	}{
		{"heartbeat reply on the wrong topic", flaws{heartbeatTopic: "phoenix2"}, map[string]string{
			"heartbeat/reply":               `at [2] expected "phoenix", got "phoenix2"`,
			"heartbeat/reply-join-ref-null": `at [2] expected "phoenix", got "phoenix2"`,
			"heartbeat/numeric-ref":         `at [2] expected "phoenix", got "phoenix2"`,
			"heartbeat/ping-pong":           `at [2] expected "phoenix", got "phoenix2"`,
			"idle/closes-silent-connection": `at [2] expected "phoenix", got "phoenix2"`,
		}},
		{"replies stamped with the message's join_ref", flaws{stampMessageJoinRef: true}, map[string]string{
			"replies/reply-stamped-with-channel-join-ref": `at [0] expected "1", got null`,
		}},
		{"idle timeout closes with 1000", flaws{idleClose: 1000}, map[string]string{
			"idle/close-code-not-1000": "expected close with any code but 1000 or the end of the connection, got close 1000",
		}},
		{"no phoenix subprotocol", flaws{noSubprotocol: true}, map[string]string{
			"authtoken/phoenix-subprotocol-echoed": `header Sec-WebSocket-Protocol: expected "phoenix", got no such header`,
		}},
		{"stale join_ref handled", flaws{keepStale: true}, map[string]string{
			"joinref/stale-event-dropped": `silent: expected nothing for 300ms, got ["1","2","conformance:`,
			"joinref/stale-leave-ignored": `silent: expected nothing for 300ms, got ["1","2","conformance:`,
		}},
		{"unmatched topic echoes the join_ref", flaws{unmatchedJoinRef: true}, map[string]string{
			"unmatched/join":                    `at [0] expected null, got "1"`,
			"unmatched/event-on-unjoined-topic": `at [0] expected null, got "4"`,
			"join/refused":                      `at [0] expected null, got "1"`,
			"join/leave":                        `at [0] expected null, got "1"`,
			"replies/stop":                      `at [0] expected null, got "1"`,
		}},
		{"phx_close with a null ref", flaws{closeRefNull: true}, map[string]string{
			"join/leave":   `at [1] expected "1", got null`,
			"replies/stop": `at [1] expected "1", got null`,
		}},
		{"malformed input closes with 1000", flaws{malformedClose: 1000}, map[string]string{
			"malformed/not-json":     "got close 1000",
			"malformed/object-on-v2": "got close 1000",
		}},
		{"LongPoll status as the HTTP status", flaws{lpHTTPStatus: true}, map[string]string{
			"longpoll/new-session":          "HTTP status: expected 200, got 410",
			"longpoll/join-and-poll":        `expected HTTP 200 {"status":410,"token":"<nonempty>","messages":[]}, got HTTP 410`,
			"longpoll/post-without-session": "HTTP status: expected 200, got 410",
		}},
		{"LongPoll without CORS", flaws{lpNoCORS: true}, map[string]string{
			"longpoll/new-session": `header Access-Control-Allow-Origin: expected "*", got no such header`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // mostly waiting: idle timeouts, silences, polls
			code, rep := runMini(t, tc.flaws)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			for _, c := range rep.Cases {
				want, mustFail := tc.fail[c.ID]
				switch {
				case mustFail && c.Result != resultFail:
					t.Errorf("%s: %s, want it to fail with %q", c.ID, c.Result, want)
				case mustFail && !strings.Contains(c.Failure.Message, want):
					t.Errorf("%s failed with\n\t%s\nwant a message containing\n\t%s", c.ID, c.Failure.Message, want)
				case !mustFail && c.Result != resultPass:
					t.Errorf("%s: %s (%+v), want pass: the flaw is not its business", c.ID, c.Result, c.Failure)
				}
				if mustFail && c.Failure != nil && len(c.Trace) == 0 {
					t.Errorf("%s: a failed case in the JSON report has no trace", c.ID)
				}
			}
		})
	}
}

// TestReportFormats checks the human report, the exit status and the JUnit
// file of a run with a failure.
func TestReportFormats(t *testing.T) {
	url := startMini(t, flaws{heartbeatTopic: "wrong"})
	junit := filepath.Join(t.TempDir(), "report.xml")
	code, out := conform(t, "-url", url, "-run", "^heartbeat/(reply|v1-reply)$|^join/ok$", "-junit", junit, "-trace")
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, want := range []string{
		"FAIL heartbeat/reply ",
		`heartbeat.cases:11 expect: at [2] expected "phoenix", got "wrong": expected [null,"5","phoenix","phx_reply",{"response":{},"status":"ok"}], got [null,"5","wrong","phx_reply",{"response":{},"status":"ok"}]`,
		"PASS join/ok ",
		"FAIL heartbeat/v1-reply ", // the mini server speaks V2 only: 403
		`→ [null,"5","phoenix","heartbeat",{}]`,
		"1 passed, 2 failed, 0 skipped (3 cases",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	raw, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<testsuites name="fawkes-conform `, `tests="3" failures="2"`, `<testcase name="heartbeat/reply" classname="conformance.core.heartbeat"`, `<failure message="heartbeat.cases:11 expect: at [2]`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("JUnit report lacks %q:\n%s", want, raw)
		}
	}
}

func TestSelection(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // cases that must be listed
		not  []string // cases that must not
	}{
		{[]string{"-phoenix", "1.7"}, []string{"heartbeat/reply", "longpoll/ndjson-batch-in-order"}, []string{"joinref/stale-event-dropped", "longpoll/token-in-header", "authtoken/bearer-entry-accepted", "longpoll/ndjson-line-cap"}},
		{[]string{"-phoenix", "1.7.22"}, []string{"longpoll/ndjson-line-cap"}, []string{"join/too-many-channels"}},
		{[]string{"-phoenix", "1.8.2"}, []string{"authtoken/bearer-entry-accepted"}, []string{"joinref/stale-event-dropped", "longpoll/ndjson-line-cap"}},
		{[]string{"-tags", "!slow"}, []string{"heartbeat/reply"}, []string{"idle/close-code-not-1000", "longpoll/session-expires"}},
		{[]string{"-tags", "v1"}, []string{"v1/join-reply", "heartbeat/v1-reply"}, []string{"heartbeat/reply"}},
		{[]string{"-groups", "presence"}, []string{"presence/state-after-join"}, []string{"heartbeat/reply", "events/ping"}},
		{[]string{"-groups", "all", "-run", "^token/"}, []string{"token/websocket-token-param"}, []string{"origin/refused", "heartbeat/reply"}},
	} {
		code, out := conform(t, append([]string{"-list"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", tc.args, code, out)
		}
		listed := map[string]bool{}
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				listed[f[0]] = true
			}
		}
		for _, w := range tc.want {
			if !listed[w] {
				t.Errorf("%v: %s not listed", tc.args, w)
			}
		}
		for _, n := range tc.not {
			if listed[n] {
				t.Errorf("%v: %s listed", tc.args, n)
			}
		}
	}
	if code, out := conform(t, "-groups", "nope", "-url", "http://127.0.0.1:1/socket"); code != 2 || !strings.Contains(out, "unknown group") {
		t.Errorf("unknown group: exit %d, %s", code, out)
	}
	if code, out := conform(t, "-run", "^nothing$", "-url", "http://127.0.0.1:1/socket"); code != 2 || !strings.Contains(out, "no case selected") {
		t.Errorf("empty selection: exit %d, %s", code, out)
	}
}
