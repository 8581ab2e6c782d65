// Package phxtoken verifies and signs Phoenix.Token tokens, so that a token
// minted by an Elixir app is accepted unchanged by a Go server that knows the
// same secret_key_base.
//
// On the Elixir side:
//
//	token = Phoenix.Token.sign(MyAppWeb.Endpoint, "user socket", user.id)
//	Phoenix.Token.verify(socket, "user socket", token, max_age: 86400)
//
// The Go equivalent of the verify call:
//
//	v, err := phxtoken.NewVerifier(secretKeyBase, "user socket", phxtoken.Config{})
//	...
//	data, err := v.Verify(token, phxtoken.WithMaxAge(24*time.Hour))
//
// Signed tokens look like "SFMyNTY.<payload>.<mac>": the payload is the Erlang
// External Term Format (ETF) encoding of {data, signed_at_ms, max_age_s},
// the MAC an HMAC keyed with PBKDF2(secret_key_base, salt). Encrypted tokens
// ("XCP.", from Phoenix.Token.encrypt) use XChaCha20-Poly1305 with the same
// key. See docs/protocol.md §9, and plug_crypto's
// Plug.Crypto module, which this package follows rule for rule but one: a
// segment must be the canonical base64url that Phoenix.Token writes
// (unpadded, unused bits zero), where Plug.Crypto also reads a padded one
// and ignores the unused bits. Every token Phoenix makes passes, and each
// has one spelling, so that apps may use token strings as keys.
//
// Decoded data uses these Go types: integers are int64, or *big.Int when
// they do not fit; floats are float64; binaries (Elixir strings) are string;
// the atoms nil, true and false are nil, true and false, other atoms are
// [Atom]; tuples are [Tuple]; lists are []any; maps are map[any]any whose
// keys are int64, float64, string, Atom, bool or nil.
//
// The package also reads the phoenix.js authToken out of a
// Sec-WebSocket-Protocol header: see [ExtractAuthToken].
package phxtoken
