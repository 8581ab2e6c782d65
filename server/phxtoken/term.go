package phxtoken

import "github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"

// Atom is an Erlang atom (an Elixir :atom), other than nil, true and false,
// which are Go's nil, true and false. Elixir's module names are atoms too:
// Foo.Bar is Atom("Elixir.Foo.Bar").
type Atom string

// Tuple is an Erlang tuple.
type Tuple []any

// The External Term Format is read and written with package etf, the codec
// of the Phoenix.PubSub.Redis bridge; this package maps its terms to the Go
// values of the package doc, and writes atoms as OTP 26 does when asked.
const (
	etfVersion    = etf.Version
	tagCompressed = etf.TagCompressed
	// maxDepth bounds nesting; a token's data is rarely more than 3 deep.
	maxDepth = etf.MaxDepth
	// maxAtomChars is the BEAM's own limit on atom length.
	maxAtomChars = etf.MaxAtomChars
)
