// Package tokenauth is the connect hook of a Phoenix socket that
// authenticates with Phoenix.Token: the user socket of the Phoenix guides,
// as a server.ConnectFunc.
//
// The Elixir it replaces:
//
//	def connect(%{"token" => token}, socket, _connect_info) do
//	  case Phoenix.Token.verify(socket, "user socket", token, max_age: 86400) do
//	    {:ok, user_id} -> {:ok, assign(socket, :user_id, user_id)}
//	    {:error, _reason} -> :error
//	  end
//	end
//
//	def id(socket), do: "#{socket.assigns.user_id}"
//
// In Go:
//
//	verifier, err := phxtoken.NewVerifier(secretKeyBase, "user socket", phxtoken.Config{})
//	...
//	endpoint := server.New(server.Config{
//		Router:  router,
//		Connect: tokenauth.ConnectHook(tokenauth.Config{Verifier: verifier, MaxAge: 24 * time.Hour}),
//	})
//
// The hook reads the token from phoenix.js's authToken option when the
// client sent one (the Sec-WebSocket-Protocol bearer entry, or LongPoll's
// X-Phoenix-AuthToken header), else from the "token" connect param
// (new Socket("/socket", {params: {token}})). A missing, invalid or
// expired token refuses the connection: 403 on WebSocket, {"status":403}
// on LongPoll; the reason is logged, the token never.
//
// An accepted connection keeps the token's data in its assigns (Data
// reads it back from a channel) and, by default, takes it as its socket id
// (ID), so that endpoint.Disconnect(id) closes that user's sockets, as
// Endpoint.broadcast(id, "disconnect", %{}) does in Phoenix. Config.Identify
// chooses another id or more assigns.
package tokenauth

import (
	"context"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/phxtoken"
)

// AssignData is the assigns key under which an accepted connection keeps
// its token's verified data (see Data).
const AssignData = "token_data"

// DefaultParam is the connect param that carries the token when the
// client sent no authToken.
const DefaultParam = "token"

// Config configures ConnectHook. Only Verifier is required.
type Config struct {
	// Verifier checks tokens: phxtoken.NewVerifier with the Phoenix app's
	// secret_key_base and the salt it signs with ("user socket" in the
	// guides). Required.
	Verifier *phxtoken.Verifier
	// MaxAge is Phoenix.Token.verify's max_age. Zero means the max age
	// embedded in the token when it was signed (86400 s unless the app
	// chose another); phxtoken.Infinity means no expiry.
	MaxAge time.Duration
	// Encrypted says tokens come from Phoenix.Token.encrypt ("XCP."), not
	// sign. Zero means signed tokens.
	Encrypted bool
	// Param is the connect param read when no authToken was sent. Empty
	// means DefaultParam ("token").
	Param string
	// Identify turns a token's data into the connection's identity, as
	// Phoenix's connect/3 assigns and id/1 do. An error refuses the
	// connection (a *server.Refusal keeps its status). Nil means
	// {ID: ID(data), Assigns: {AssignData: data}}. It runs on the
	// connecting request's goroutine, for many connections at once: it must
	// be safe for concurrent use; it may block (a database lookup), which
	// delays only that connection.
	Identify func(data any) (server.ConnectResult, error)
}

// ConnectHook returns the server.ConnectFunc that accepts a connection
// only with a valid token (see the package doc). It panics if
// cfg.Verifier is nil.
func ConnectHook(cfg Config) server.ConnectFunc {
	if cfg.Verifier == nil {
		panic("tokenauth: Config.Verifier is nil")
	}
	param := cfg.Param
	if param == "" {
		param = DefaultParam
	}
	var opts []phxtoken.VerifyOption
	if cfg.MaxAge != 0 {
		opts = append(opts, phxtoken.WithMaxAge(cfg.MaxAge))
	}
	verify := cfg.Verifier.Verify
	if cfg.Encrypted {
		verify = cfg.Verifier.Decrypt
	}
	identify := cfg.Identify
	if identify == nil {
		identify = defaultIdentity
	}
	return func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
		token := req.Params[param]
		if req.HasAuthToken {
			token = req.AuthToken
		}
		data, err := verify(token, opts...)
		if err != nil {
			// The reason only: tokens are credentials and never logged.
			return server.ConnectResult{}, &server.Refusal{Status: http.StatusForbidden, Reason: Failure(err)}
		}
		res, err := identify(data)
		if err != nil {
			var refusal *server.Refusal
			if errors.As(err, &refusal) {
				return server.ConnectResult{}, refusal
			}
			return server.ConnectResult{}, &server.Refusal{Status: http.StatusForbidden, Reason: err.Error()}
		}
		return res, nil
	}
}

func defaultIdentity(data any) (server.ConnectResult, error) {
	return server.ConnectResult{ID: ID(data), Assigns: map[string]any{AssignData: data}}, nil
}

// Data returns the verified token data of a connection ConnectHook
// accepted (the assigns under AssignData), and whether there is one. A
// channel reads it from s.Conn(); the Go types are phxtoken's (int64,
// string, map[any]any, ...).
func Data(c *channels.Conn) (any, bool) {
	if c == nil {
		return nil, false
	}
	data, ok := c.Assigns[AssignData]
	return data, ok
}

// ID returns the socket id that token data names: the data itself when it
// is a string or an integer (Phoenix.Token.sign(endpoint, salt, user.id));
// for a map, its "id" or else "user_id" entry, as a string or an integer.
// Anything else gives "", an anonymous socket.
func ID(data any) string {
	m, ok := data.(map[any]any)
	if !ok {
		return scalar(data)
	}
	for _, k := range []any{"id", phxtoken.Atom("id"), "user_id", phxtoken.Atom("user_id")} {
		if v, ok := m[k]; ok {
			return scalar(v)
		}
	}
	return ""
}

func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case *big.Int:
		return v.String()
	}
	return ""
}

// Failure names why a token was refused, for logs and metrics: "token
// missing", "token expired" or "token invalid". It never includes the
// token.
func Failure(err error) string {
	switch {
	case errors.Is(err, phxtoken.ErrMissing):
		return "token missing"
	case errors.Is(err, phxtoken.ErrExpired):
		return "token expired"
	}
	return "token invalid"
}
