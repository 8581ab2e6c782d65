// Package etf reads and writes Erlang's External Term Format, the bytes of
// :erlang.term_to_binary/1, as the BEAM nodes of a Phoenix cluster exchange
// them through Phoenix.PubSub.Redis and as Phoenix.Token signs them. It is
// the one ETF codec of the module: the bridge (package phoenixredis) and
// server/phxtoken both use it.
//
// A Reader walks one encoded term without building it: the pub/sub bridge
// reads a message's header, skips what it does not need and transcodes the
// payload straight to JSON (AppendJSON); phxtoken walks a token's payload
// to build its own Go values (Peek, Tuple, List, Map). Decode builds a whole term as Go
// values, for tests and tools. The Append functions write terms as OTP 25's
// term_to_binary does, byte for byte for everything this package emits
// (maps of up to 32 keys in term order, the smallest integer form, latin-1
// atoms as ATOM_EXT), and AppendFromJSON turns JSON into the term Jason
// would decode it to.
//
// Nothing here creates atoms from data: Atom values are only what the
// caller writes. Every decoder is bounded (nesting, big integer size,
// inflated size), never panics, and allocates in proportion to its input.
package etf

import (
	"fmt"
	"math/big"
)

// The Go values of Erlang terms, as Decode returns them and AppendTerm
// writes them:
//
//	integer        int64, or *big.Int when it does not fit
//	float          float64
//	atom           Atom (nil, true and false included)
//	binary         string
//	tuple          Tuple
//	proper list    List ([] is an empty List)
//	improper list  ImproperList
//	map            Map, its pairs in wire order
//	pid, reference Pid, Ref
type (
	// Atom is an Erlang atom, by its text. Elixir's nil, true and false
	// are the atoms "nil", "true" and "false"; module names are atoms too
	// (Phoenix.PubSub is "Elixir.Phoenix.PubSub").
	Atom string
	// Tuple is an Erlang tuple.
	Tuple []any
	// List is a proper Erlang list.
	List []any
	// ImproperList is a list whose tail is not [].
	ImproperList struct {
		Elems []any
		Tail  any
	}
	// Map is an Erlang map as its key/value pairs.
	Map []Pair
	// Pair is one entry of a Map.
	Pair struct{ Key, Value any }
	// Pid is a process identifier (NEW_PID_EXT).
	Pid struct {
		Node                 Atom
		ID, Serial, Creation uint32
	}
	// Ref is a reference (NEWER_REFERENCE_EXT).
	Ref struct {
		Node     Atom
		Creation uint32
		ID       []uint32
	}
)

// Get returns the value of the first pair of m whose key equals key (an
// Atom, string, int64 or float64), and whether there is one.
func (m Map) Get(key any) (any, bool) {
	for _, p := range m {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// External Term Format tags (erts/emulator/beam/external.h): the first
// byte of each encoded term, as Reader.Peek returns it.
const (
	Version = 131 // first byte of every encoded term

	TagCompressed    = 80  // COMPRESSED: u32 inflated size, then a zlib stream
	TagNewFloat      = 70  // NEW_FLOAT_EXT: IEEE 754 float64
	TagBitBinary     = 77  // BIT_BINARY_EXT: a bit string
	TagPort          = 102 // PORT_EXT
	TagNewPort       = 89  // NEW_PORT_EXT
	TagV4Port        = 120 // V4_PORT_EXT
	TagNewFun        = 112 // NEW_FUN_EXT
	TagExport        = 113 // EXPORT_EXT: fun M:F/A
	TagNewPid        = 88  // NEW_PID_EXT
	TagNewerRef      = 90  // NEWER_REFERENCE_EXT
	TagSmallInteger  = 97  // SMALL_INTEGER_EXT: 0..255
	TagInteger       = 98  // INTEGER_EXT: int32
	TagFloat         = 99  // FLOAT_EXT: 31 bytes of text (before OTP 17's default)
	TagAtom          = 100 // ATOM_EXT: latin-1, u16 length
	TagPid           = 103 // PID_EXT
	TagSmallTuple    = 104 // SMALL_TUPLE_EXT: u8 arity
	TagLargeTuple    = 105 // LARGE_TUPLE_EXT: u32 arity
	TagNil           = 106 // NIL_EXT: []
	TagString        = 107 // STRING_EXT: list of bytes, u16 length
	TagList          = 108 // LIST_EXT: u32 length, elements, tail
	TagBinary        = 109 // BINARY_EXT: u32 length
	TagSmallBig      = 110 // SMALL_BIG_EXT: u8 digit count
	TagLargeBig      = 111 // LARGE_BIG_EXT: u32 digit count
	TagNewRef        = 114 // NEW_REFERENCE_EXT
	TagSmallAtom     = 115 // SMALL_ATOM_EXT: latin-1, u8 length
	TagMap           = 116 // MAP_EXT: u32 pairs
	TagAtomUTF8      = 118 // ATOM_UTF8_EXT: u16 length
	TagSmallAtomUTF8 = 119 // SMALL_ATOM_UTF8_EXT: u8 length
)

// Limits that keep hostile input cheap. Every element costs at least one
// input byte, so with MaxDepth a decoder's work and memory are linear in
// its (inflated) input.
const (
	// MaxDepth bounds nesting. Channel payloads are rarely 10 deep.
	MaxDepth = 100
	// MaxBigBytes bounds big integers to 8192 bits (2466 decimal digits).
	MaxBigBytes = 1024
	// MaxAtomChars is the BEAM's own limit on atom length.
	MaxAtomChars = 255
	// DefaultMaxInflated bounds the inflated size of a compressed term
	// when the caller gives no bound.
	DefaultMaxInflated = 8 << 20
)

// Error is a term that cannot be read or written: malformed bytes, or a
// value outside what the operation supports (Unrepresentable).
type Error struct {
	// Offset is where in the (inflated) input the problem is, or -1.
	Offset int
	// Reason says what is wrong, in a few words.
	Reason string
	// Unrepresentable is set when the term is well formed but the
	// operation cannot carry it (say, a tuple to JSON, or 1e999 to a
	// float).
	Unrepresentable bool
}

// Error returns the reason, with the offset when there is one.
func (e *Error) Error() string {
	if e.Offset < 0 {
		return "etf: " + e.Reason
	}
	return fmt.Sprintf("etf: %s at byte %d", e.Reason, e.Offset)
}

func unrepresentable(offset int, reason string) *Error {
	return &Error{Offset: offset, Reason: reason, Unrepresentable: true}
}

// bigFits reports whether x is small enough for MaxBigBytes.
func bigFits(x *big.Int) bool { return (x.BitLen()+7)/8 <= MaxBigBytes }
