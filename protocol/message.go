package protocol

// Kind says what a server-to-client message is. It decides the frame layout
// of binary frames; JSON frames differ only by their refs and event.
type Kind uint8

const (
	// Push is a message a channel sends to its own client, or a message a
	// client sends to the server (every decoded message is a Push).
	Push Kind = iota
	// Reply answers a client message: its event is "phx_reply" and it carries
	// a status and a response.
	Reply
	// Broadcast is a message sent to every subscriber of a topic, with null
	// join_ref and ref.
	Broadcast
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Push:
		return "push"
	case Reply:
		return "reply"
	case Broadcast:
		return "broadcast"
	}
	return "unknown"
}

// EventReply is the event of every reply frame.
const EventReply = "phx_reply"

// Message is one Phoenix message: join_ref, ref, topic, event and payload.
//
// For a Reply, Event is EventReply, Status is the reply status ("ok",
// "error", ...) and Payload is the response alone; the serializer wraps it as
// {"status":..,"response":..}. Payload is raw JSON, or raw bytes when Binary
// is set. A nil Payload encodes as {}.
type Message struct {
	Kind    Kind
	JoinRef Ref
	Ref     Ref
	Topic   string
	Event   string
	Status  string
	Payload []byte
	Binary  bool
}
