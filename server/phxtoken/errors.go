package phxtoken

import (
	"errors"
	"fmt"
)

// The results of a failed verification, as Plug.Crypto.verify/4 names them.
// Errors returned by this package may wrap them with a reason (which never
// contains the token); compare with errors.Is.
var (
	// ErrInvalid means the token is malformed, its MAC or encryption does
	// not check out with this key, its payload is not a term this package
	// can read, or it was signed in the future.
	ErrInvalid = errors.New("phxtoken: invalid token")
	// ErrExpired means the token is authentic but older than its max age.
	ErrExpired = errors.New("phxtoken: token expired")
	// ErrMissing means the token is empty.
	ErrMissing = errors.New("phxtoken: token missing")
)

// Reasons for ErrInvalid, built once so that the failure paths do not
// allocate.
var (
	errMalformed    = fmt.Errorf("%w: malformed", ErrInvalid)
	errAlgorithm    = fmt.Errorf("%w: unsupported algorithm", ErrInvalid)
	errSignature    = fmt.Errorf("%w: signature mismatch", ErrInvalid)
	errDecryption   = fmt.Errorf("%w: decryption failed", ErrInvalid)
	errShape        = fmt.Errorf("%w: payload is not {data, signed_at, max_age}", ErrInvalid)
	errFutureSigned = fmt.Errorf("%w: signed in the future", ErrInvalid)
	errKeyLength    = fmt.Errorf("%w: encrypted tokens need a 32-byte key", ErrInvalid)
)

// termError describes why bytes are not a readable Erlang term.
type termError struct {
	reason string
	offset int
}

func (e *termError) Error() string {
	return fmt.Sprintf("phxtoken: bad term at byte %d: %s", e.offset, e.reason)
}
