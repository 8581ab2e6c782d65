// Package protocol converts between Phoenix Channels wire frames and
// messages. It implements the three Phoenix serializers: V1 JSON (objects),
// V2 JSON (arrays) and V2 binary frames, and the negotiation of one from the
// vsn query value.
//
// The package does no I/O and starts no goroutines. Payloads stay raw bytes
// from decode to encode: a JSON payload is validated but never decoded into
// Go values, and a decoded message's payload aliases the frame it came from.
// Every decoder returns a *Error on malformed input and never panics.
package protocol
