// Package jsontext scans JSON text (RFC 8259) without decoding it. It
// validates a value and finds where it ends, hands out the top-level members
// of an object and the elements of an array as raw tokens, unquotes a string
// token, and appends a Go string as a JSON string.
//
// Nothing is decoded into Go values: a token is a subslice of the input. The
// scanner checks syntax only, as encoding/json.Valid does; it does not check
// that strings hold valid UTF-8 (call utf8.Valid when that matters). Nesting
// is bounded by Scanner.MaxDepth, so hostile input cannot grow the stack
// without bound.
//
// No function panics, whatever its input. None allocates on success, except
// where a string is made: Unquote returns a new string, and AppendUnquote
// and AppendQuote grow dst when it is too small. Errors are *SyntaxError.
// Every function is safe for concurrent use.
package jsontext
