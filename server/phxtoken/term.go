package phxtoken

// Atom is an Erlang atom (an Elixir :atom), other than nil, true and false,
// which are Go's nil, true and false. Elixir's module names are atoms too:
// Foo.Bar is Atom("Elixir.Foo.Bar").
type Atom string

// Tuple is an Erlang tuple.
type Tuple []any

// External Term Format tags (erts/emulator/beam/external.h).
const (
	etfVersion       = 131
	tagCompressed    = 80
	tagNewFloat      = 70
	tagSmallInteger  = 97
	tagInteger       = 98
	tagAtom          = 100 // Latin-1, u16 length
	tagSmallTuple    = 104
	tagLargeTuple    = 105
	tagNil           = 106
	tagString        = 107 // list of bytes, u16 length
	tagList          = 108
	tagBinary        = 109
	tagSmallBig      = 110
	tagLargeBig      = 111
	tagSmallAtom     = 115 // Latin-1, u8 length
	tagMap           = 116
	tagAtomUTF8      = 118
	tagSmallAtomUTF8 = 119
)

// Limits that keep hostile input cheap. Every element costs at least one
// input byte, so with maxDepth the decoder's work and memory are linear in
// the input.
const (
	// maxDepth bounds nesting; a token's data is rarely more than 3 deep.
	maxDepth = 100
	// maxBigBytes bounds LARGE_BIG integers to 8192 bits.
	maxBigBytes = 1024
	// maxAtomChars is the BEAM's own limit on atom length.
	maxAtomChars = 255
)
