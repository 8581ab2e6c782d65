package server

import "github.com/rs/zerolog"

// closeReason says why a connection ended. closeReason.info maps each to its
// WebSocket close code, log level and metric label in one place.
type closeReason uint8

const (
	closeClient     closeReason = iota + 1 // the client closed or went away
	closeIdle                              // no inbound frame within IdleTimeout
	closeTooBig                            // message over MaxMessageBytes
	closeMalformed                         // a frame the serializer cannot decode
	closeProtocol                          // invalid WebSocket framing
	closeSlow                              // the outbox overflowed
	closeDisconnect                        // "disconnect" broadcast on the socket id
	closeShutdown                          // the server is draining
	closeWriteError                        // a write failed or timed out
)

// closeInfo is how a close reason shows on the wire, in logs and metrics.
type closeInfo struct {
	code  uint16 // WebSocket close code sent; 0 means none can be sent
	level zerolog.Level
	label string
}

// Close codes are never 1000: phoenix.js stays disconnected after a 1000.
func (r closeReason) info() closeInfo {
	switch r {
	case closeClient:
		return closeInfo{0, zerolog.DebugLevel, "client_closed"}
	case closeIdle:
		return closeInfo{1002, zerolog.InfoLevel, "idle_timeout"} // as Phoenix on Bandit
	case closeTooBig:
		return closeInfo{1009, zerolog.WarnLevel, "message_too_big"}
	case closeMalformed:
		return closeInfo{1011, zerolog.WarnLevel, "malformed_message"} // as Phoenix on Cowboy
	case closeProtocol:
		return closeInfo{1002, zerolog.WarnLevel, "protocol_error"}
	case closeSlow:
		return closeInfo{1013, zerolog.WarnLevel, "slow_consumer"}
	case closeDisconnect:
		return closeInfo{1001, zerolog.InfoLevel, "disconnect"}
	case closeShutdown:
		return closeInfo{1012, zerolog.DebugLevel, "shutdown"}
	case closeWriteError:
		return closeInfo{0, zerolog.DebugLevel, "write_error"}
	}
	return closeInfo{1011, zerolog.ErrorLevel, "unknown"}
}

// String returns the metric label.
func (r closeReason) String() string { return r.info().label }
