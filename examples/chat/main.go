// Command chat is a chat app ported from Phoenix to Fawkes, written
// against Fawkes's public API only: users sign in with a name and get a
// Phoenix.Token, the socket accepts only a valid token and takes its data
// as the user id, and the room channel (room.go) broadcasts messages, hides
// those of users one has blocked, and tracks who is online with Presence.
//
//	go run ./examples/chat            # then open http://127.0.0.1:4001/
//
// The page (static/) runs the phoenix npm client, the same phoenix.mjs the
// Fawkes console embeds. README.md shows the Elixir each part replaces.
package main

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"log"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/phxtoken"
	"github.com/fawkes-rt/fawkes/server/tokenauth"
)

//go:generate cp ../../cmd/fawkes/console/phoenix.mjs static/phoenix.mjs

//go:embed static
var static embed.FS

// salt namespaces the app's socket tokens, as the salt given to
// Phoenix.Token.sign in the Elixir app.
const salt = "user socket"

// tokenMaxAge is how long a sign-in lasts, max_age in Phoenix.Token.verify.
const tokenMaxAge = 24 * time.Hour

// allowed is the app's rule for who may enter which room (Chat.allowed?/2
// in the Elixir app): every signed-in user may enter any room, but
// "admins" is for the user "admin" only.
func allowed(user, room string) bool {
	return user != "" && (room != "admins" || user == "admin")
}

// app is the chat server: its endpoint and everything it serves.
type app struct {
	verifier *phxtoken.Verifier
	endpoint *server.Endpoint
	handler  http.Handler
}

// newApp wires the app for the Phoenix secret_key_base given.
func newApp(secretKeyBase string) (*app, error) {
	verifier, err := phxtoken.NewVerifier(secretKeyBase, salt, phxtoken.Config{})
	if err != nil {
		return nil, err
	}
	// The router and the socket, Phoenix's UserSocket: channel "room:*",
	// RoomChannel, with intercept ["new_msg"].
	members := presence.New(nil) // broadcasts on the endpoint's PubSub
	router := channels.NewRouter()
	router.Handle("room:*", members.Wrap(func(string) channels.Channel { return &Room{presence: members} }),
		channels.Intercept("new_msg"))
	endpoint := server.New(server.Config{
		Router:  router,
		Connect: tokenauth.ConnectHook(tokenauth.Config{Verifier: verifier, MaxAge: tokenMaxAge}),
	})

	mux := http.NewServeMux()
	mux.Handle("/socket/", endpoint) // /socket/websocket and /socket/longpoll
	mux.Handle("POST /sign-in", signIn(verifier))
	files, _ := fs.Sub(static, "static") // "static" is embedded above
	mux.Handle("/", http.FileServerFS(files))
	return &app{verifier: verifier, endpoint: endpoint, handler: mux}, nil
}

// validName is what the app takes as a user name.
var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// signIn answers POST /sign-in name=<name> with {"token": ...}, a
// Phoenix.Token of the name: what a Phoenix app puts in the page of a
// signed-in user (Phoenix.Token.sign(conn, "user socket", user.id)). A
// real app checks a password first; this one trusts the name.
func signIn(v *phxtoken.Verifier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.FormValue("name")
		if !validName.MatchString(name) {
			http.Error(w, "a name is 1 to 32 of A-Z a-z 0-9 _ -", http.StatusBadRequest)
			return
		}
		token, err := v.Sign(name, time.Time{}, tokenMaxAge)
		if err != nil {
			http.Error(w, "cannot sign", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4001", "listen address")
	flag.Parse()
	secret := os.Getenv("SECRET_KEY_BASE") // the Phoenix app's, to accept its tokens
	if secret == "" {
		b := make([]byte, 48)
		_, _ = rand.Read(b)
		secret = base64.StdEncoding.EncodeToString(b)
	}
	a, err := newApp(secret)
	if err != nil {
		log.Fatalf("chat: %v", err)
	}
	srv := &http.Server{Addr: *addr, Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.endpoint.Shutdown(shutdown) // close 1012: phoenix.js reconnects
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("chat: open http://%s/", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("chat: %v", err)
	}
}
