package server

import (
	"errors"
	"os"

	"github.com/rs/zerolog"
)

// CloseReason says why a connection (a WebSocket connection or a LongPoll
// session) ended. Its String is the label of the metric and the
// close_reason of the access log line; CloseReason.info maps each reason to
// its WebSocket close code, log level and label in one place.
type CloseReason uint8

// The close reasons, as Stats.Closed counts them.
const (
	CloseClient       CloseReason = iota + 1 // "client_closed": the client closed or went away cleanly
	CloseIdle                                // "idle_timeout": no inbound frame within IdleTimeout
	CloseTooBig                              // "message_too_big": a message over MaxMessageBytes
	CloseMalformed                           // "malformed_message": a message the serializer cannot decode
	CloseProtocol                            // "protocol_error": invalid WebSocket framing
	CloseSlow                                // "slow_consumer": the outbox overflowed OutboxBytes
	CloseDisconnect                          // "disconnect": a "disconnect" broadcast on the socket id
	CloseShutdown                            // "shutdown": the server is draining
	CloseWriteTimeout                        // "write_timeout": a write did not complete within WriteTimeout
	ClosePeerReset                           // "peer_reset": the client reset the connection (ECONNRESET, EPIPE)
	CloseWriteError                          // "write_error": a write failed otherwise

	closeReasonEnd // one past the last reason: the size of arrays indexed by reason
)

// CloseReasons returns every reason Stats.Closed may count, in order, for
// metrics that want each series from the start.
func CloseReasons() []CloseReason {
	out := make([]CloseReason, 0, closeReasonEnd-1)
	for r := CloseClient; r < closeReasonEnd; r++ {
		out = append(out, r)
	}
	return out
}

// String returns the metric label: "slow_consumer", "write_timeout", ...
func (r CloseReason) String() string { return r.info().label }

// closeInfo is how a close reason shows on the wire, in logs and metrics.
type closeInfo struct {
	code  uint16 // WebSocket close code sent; 0 means none can be sent
	level zerolog.Level
	label string
}

// Close codes are never 1000: phoenix.js stays disconnected after a 1000.
// A client's close is answered with its own code (echoCloseCode).
func (r CloseReason) info() closeInfo {
	switch r {
	case CloseClient:
		return closeInfo{0, zerolog.DebugLevel, "client_closed"}
	case CloseIdle:
		return closeInfo{1002, zerolog.InfoLevel, "idle_timeout"} // as Phoenix on Bandit
	case CloseTooBig:
		return closeInfo{1009, zerolog.WarnLevel, "message_too_big"}
	case CloseMalformed:
		return closeInfo{1011, zerolog.WarnLevel, "malformed_message"} // as Phoenix on Cowboy
	case CloseProtocol:
		return closeInfo{1002, zerolog.WarnLevel, "protocol_error"}
	case CloseSlow:
		return closeInfo{1013, zerolog.WarnLevel, "slow_consumer"}
	case CloseDisconnect:
		return closeInfo{1001, zerolog.InfoLevel, "disconnect"}
	case CloseShutdown:
		return closeInfo{1012, zerolog.DebugLevel, "shutdown"}
	case CloseWriteTimeout:
		return closeInfo{0, zerolog.InfoLevel, "write_timeout"}
	case ClosePeerReset:
		return closeInfo{0, zerolog.DebugLevel, "peer_reset"}
	case CloseWriteError:
		return closeInfo{0, zerolog.InfoLevel, "write_error"}
	}
	return closeInfo{1011, zerolog.ErrorLevel, "unknown"}
}

// closeError is an error that ends a connection, with the reason it ends
// for. The reader returns one for every way reading stops, the outbox hands
// one to onWriteError; reasonOf finds it with errors.As, so one place maps
// an error to a close reason.
type closeError struct {
	reason CloseReason
	// code is the close code to answer a client's close frame with (see
	// echoCloseCode); 0 for every other reason, which sends its own.
	code uint16
	err  error // the cause
}

func (e *closeError) Error() string { return e.reason.String() + ": " + e.err.Error() }

func (e *closeError) Unwrap() error { return e.err }

// errClientClose is the cause of a closeError for a client's close frame.
var errClientClose = errors.New("close frame received")

// reasonOf returns the closeError err carries; an error without one is a
// failed read (readFailure).
func reasonOf(err error) *closeError {
	var ce *closeError
	if errors.As(err, &ce) {
		return ce
	}
	return readFailure(err).(*closeError)
}

// readFailure classifies an error from reading the socket or parsing a
// frame header.
func readFailure(err error) error {
	r := CloseClient // io.EOF, the socket closed under us, ...
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		r = CloseIdle
	case errors.Is(err, errUnmasked), errors.Is(err, errReservedBits), errors.Is(err, errBadControl), errors.Is(err, errBadOpcode):
		r = CloseProtocol
	case isPeerReset(err):
		r = ClosePeerReset
	}
	return &closeError{reason: r, err: err}
}

// writeFailure classifies an error from writing to the socket. A write
// past its deadline is a client that stopped reading (or a network that
// stalled); a reset is a client that went away.
func writeFailure(err error) error {
	r := CloseWriteError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		r = CloseWriteTimeout
	case isPeerReset(err):
		r = ClosePeerReset
	}
	return &closeError{reason: r, err: err}
}
