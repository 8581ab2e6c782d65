package protocol

import "github.com/fawkes-rt/fawkes/protocol/jsontext"

// maxDepth bounds the nesting of arrays and objects the codecs accept, so
// that hostile input cannot grow the stack without bound.
const maxDepth = 1000

// scanner is the JSON scanner of the V1 and V2 codecs.
var scanner = jsontext.Scanner{MaxDepth: maxDepth}

// jsonError maps a scanner error to the codecs' error: CodeTooDeep for
// nesting past maxDepth, else CodeNotJSON saying what is wrong.
func jsonError(err error) *Error {
	se, ok := err.(*jsontext.SyntaxError)
	switch {
	case !ok:
		return errorf(CodeNotJSON, err.Error())
	case se.TooDeep:
		return errorf(CodeTooDeep, "")
	}
	return errorf(CodeNotJSON, se.Reason)
}
