package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/server/servertest"
)

// testApp starts the app on a loopback port.
func testApp(t *testing.T) (*app, *servertest.Server) {
	t.Helper()
	a, err := newApp(strings.Repeat("s3cr3t-key-base-", 4))
	if err != nil {
		t.Fatal(err)
	}
	return a, servertest.Serve(t, a.endpoint, a.handler)
}

// signInAs gets a token for name, as the page does.
func signInAs(t *testing.T, srv *servertest.Server, name string) string {
	t.Helper()
	resp, err := http.PostForm(srv.URL+"/sign-in", url.Values{"name": {name}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("sign-in %s: HTTP %d, %v", name, resp.StatusCode, err)
	}
	return body.Token
}

// online returns the users of a presence_state or of a diff's joins or
// leaves.
func online(t *testing.T, m servertest.Message, part string) []string {
	t.Helper()
	var users map[string]json.RawMessage
	if part == "" {
		_ = m.Decode(&users)
	} else {
		var diff map[string]map[string]json.RawMessage
		_ = m.Decode(&diff)
		users = diff[part]
	}
	var out []string
	for u := range users {
		out = append(out, u)
	}
	if len(out) > 1 && out[0] > out[1] {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

func TestChat(t *testing.T) {
	_, srv := testApp(t)
	socket := srv.URL + "/socket"

	// No token, or a forged one: the socket refuses to connect.
	for _, opts := range [][]servertest.Option{nil, {servertest.Params("token", "SFMyNTY.forged.token")}} {
		_, err := servertest.TryDial(t, socket, opts...)
		var refused *servertest.DialError
		if !errors.As(err, &refused) || refused.Status != http.StatusForbidden {
			t.Fatalf("connect without a valid token: %v, want 403", err)
		}
	}

	// alice over WebSocket with authToken; bob over LongPoll with the token
	// param, as phoenix.js sends either.
	alice := servertest.Dial(t, socket, servertest.AuthToken(signInAs(t, srv, "alice")))
	bob := servertest.Dial(t, socket, servertest.Params("token", signInAs(t, srv, "bob")), servertest.LongPoll())
	mallory := servertest.Dial(t, socket, servertest.AuthToken(signInAs(t, srv, "mallory")))

	// The admins room is for admin only.
	if _, r := bob.TryJoin("room:admins", nil); r.Status != "error" || r.Reason() != "unauthorized" {
		t.Errorf("bob joining room:admins: %s, want error unauthorized", r)
	}

	// Presence: each joiner gets the state; the others a diff.
	aliceRoom := alice.Join("room:lobby", nil)
	if got := online(t, aliceRoom.Await("presence_state"), ""); strings.Join(got, ",") != "alice" {
		t.Errorf("alice's presence_state: %v", got)
	}
	bobRoom := bob.Join("room:lobby", nil)
	if got := online(t, bobRoom.Await("presence_state"), ""); strings.Join(got, ",") != "alice,bob" {
		t.Errorf("bob's presence_state: %v", got)
	}
	for {
		if got := online(t, aliceRoom.Await("presence_diff"), "joins"); strings.Join(got, ",") == "bob" {
			break
		}
	}
	malloryRoom := mallory.Join("room:lobby", nil)

	// bob blocks mallory: her messages reach alice, not bob.
	if r := bobRoom.Push("block", map[string]string{"user_id": "mallory"}); !r.OK() {
		t.Fatalf("block: %s", r)
	}
	if r := malloryRoom.Push("new_msg", map[string]string{"body": "buy now"}); !r.OK() {
		t.Fatalf("mallory's new_msg: %s", r)
	}
	if r := aliceRoom.Push("new_msg", map[string]string{"body": "hi all"}); !r.OK() {
		t.Fatalf("alice's new_msg: %s", r)
	}
	var m Message
	_ = aliceRoom.Await("new_msg").Decode(&m)
	if m != (Message{Body: "buy now", UserID: "mallory"}) {
		t.Errorf("alice's first new_msg: %+v", m)
	}
	// Broadcasts from one node reach a member in the order they were made,
	// so bob's next one is alice's: mallory's was held back.
	_ = bobRoom.Await("new_msg").Decode(&m)
	if m != (Message{Body: "hi all", UserID: "alice"}) {
		t.Errorf("bob's first new_msg: %+v, want alice's (mallory is blocked)", m)
	}
	_ = malloryRoom.Await("new_msg").Decode(&m) // her own, then alice's
	if m.UserID != "mallory" {
		t.Errorf("mallory's first new_msg: %+v, want her own", m)
	}

	// A bad payload gets an error reply, the channel stays.
	if r := aliceRoom.Push("new_msg", `[1]`); r.Reason() != "bad_payload" {
		t.Errorf("new_msg with an array: %s", r)
	}
	if r := aliceRoom.Push("shout", nil); r.Reason() != "unknown_event" {
		t.Errorf("unknown event: %s", r)
	}

	// mallory's connection drops: the others see her go. (A LongPoll
	// session ends only when no GET came for 1.5 windows, as in Phoenix.)
	mallory.Close()
	for {
		if got := online(t, aliceRoom.Await("presence_diff"), "leaves"); strings.Join(got, ",") == "mallory" {
			break
		}
	}
}

// TestTokenFromPhoenix: a token minted by the Elixir app with the same
// secret_key_base and salt connects, its data becoming the user id.
func TestTokenFromPhoenix(t *testing.T) {
	a, srv := testApp(t)
	// Phoenix.Token.sign(ChatWeb.Endpoint, "user socket", "carol") with the
	// test's secret_key_base.
	token, err := a.verifier.Sign("carol", time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	room := servertest.Dial(t, srv.URL+"/socket", servertest.Params("token", token)).Join("room:lobby", nil)
	if got := online(t, room.Await("presence_state"), ""); strings.Join(got, ",") != "carol" {
		t.Errorf("presence_state: %v, want carol", got)
	}
}

// TestPage: the page and the phoenix client it imports are served.
func TestPage(t *testing.T) {
	_, srv := testApp(t)
	for path, want := range map[string]string{"/": `src="chat.js"`, "/chat.js": `from "./phoenix.mjs"`, "/phoenix.mjs": "var Socket = class"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(want)) {
			t.Errorf("GET %s: HTTP %d, want a body with %q", path, resp.StatusCode, want)
		}
	}
}

// TestPhoenixJSIsTheConsoles: the page runs the phoenix.mjs the Fawkes
// console embeds (go generate copies it; make console-assets updates that
// one from the pinned npm package).
func TestPhoenixJSIsTheConsoles(t *testing.T) {
	mine, err := static.ReadFile("static/phoenix.mjs")
	if err != nil {
		t.Fatal(err)
	}
	console, err := os.ReadFile("../../cmd/fawkes/console/phoenix.mjs")
	if err != nil {
		t.Fatalf("the console's copy is part of the repository: %v", err)
	}
	if !bytes.Equal(mine, console) {
		t.Error("static/phoenix.mjs differs from cmd/fawkes/console/phoenix.mjs: run go generate ./examples/chat")
	}
}
