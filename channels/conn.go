package channels

import "github.com/fawkes-rt/fawkes/protocol"

// Conn describes the connection a Mux serves, as the transport's connect
// step established it. Channels read it through Socket; it must not be
// modified after the Mux is created.
type Conn struct {
	// ID is the socket id ("" for anonymous sockets). A "disconnect"
	// broadcast on this topic closes the connection.
	ID string
	// Params are the connect parameters (query string values, vsn included).
	// The map may be shared by connections with the same query string: read
	// it, never modify it.
	Params map[string]string
	// Assigns are what the connect hook attached to the connection.
	Assigns map[string]any
	// Transport names the transport: "websocket" or "longpoll".
	Transport string
}

// Transport is the connection side of a Mux.
//
// Concurrency: the Mux calls it from every goroutine that handles the
// connection: channels' callbacks, publishers delivering broadcasts (with
// the PubSub's lock held), the caller of Dispatch. Both methods must be safe
// for concurrent use and must not block.
type Transport interface {
	// Send queues one encoded frame for the client; frames sent from one
	// goroutine go out in that order. Frames sent after the connection
	// closed are dropped.
	Send(f protocol.Frame)
	// Disconnect closes the connection because its socket id was sent a
	// "disconnect" broadcast (WebSocket close 1001; LongPoll ends the
	// session). It runs on the publisher's goroutine: it must not call
	// Mux.Close there and wait for it, which would wait for the PubSub.
	Disconnect()
}

// EventDisconnect is the event that, broadcast on a socket id, closes every
// connection with that id.
const EventDisconnect = "disconnect"
