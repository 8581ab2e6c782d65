package protocol

// Binary frame kinds (docs/protocol.md §3.3).
const (
	binaryPush      = 0
	binaryReply     = 1
	binaryBroadcast = 2
)

// maxBinaryField is the longest field a binary frame can carry: its length
// is one byte.
const maxBinaryField = 255

// decodeBinaryPush parses a client kind-0 frame:
// 0, join_ref_len, ref_len, topic_len, event_len, join_ref, ref, topic, event, payload.
func decodeBinaryPush(data []byte) (Message, error) {
	if len(data) == 0 {
		return Message{}, errorf(CodeTruncated, "empty frame")
	}
	if data[0] != binaryPush {
		return Message{}, errorf(CodeUnknownKind, "kind "+itoa(int(data[0]))+" (clients send only 0)")
	}
	if len(data) < 5 {
		return Message{}, errorf(CodeTruncated, "header needs 5 bytes, got "+itoa(len(data)))
	}
	lens := [4]int{int(data[1]), int(data[2]), int(data[3]), int(data[4])}
	end := 5 + lens[0] + lens[1] + lens[2] + lens[3]
	if len(data) < end {
		return Message{}, errorf(CodeTruncated, "fields need "+itoa(end)+" bytes, got "+itoa(len(data)))
	}
	header := string(data[5:end])
	var fields [4]string
	off := 0
	for k, n := range lens {
		fields[k] = header[off : off+n]
		off += n
	}
	return Message{
		Kind:    Push,
		JoinRef: StringRef(fields[0]),
		Ref:     StringRef(fields[1]),
		Topic:   fields[2],
		Event:   fields[3],
		Payload: data[end:],
		Binary:  true,
	}, nil
}

// appendBinary encodes a server push (no ref), reply or broadcast frame.
func appendBinary(dst []byte, m *Message) ([]byte, error) {
	var fields [4]string
	var kind byte
	var nf int
	switch m.Kind {
	case Push:
		kind, nf = binaryPush, 3
		fields = [4]string{m.JoinRef.String(), m.Topic, m.Event}
	case Reply:
		kind, nf = binaryReply, 4
		fields = [4]string{m.JoinRef.String(), m.Ref.String(), m.Topic, m.Status}
	case Broadcast:
		kind, nf = binaryBroadcast, 2
		fields = [4]string{m.Topic, m.Event}
	default:
		return dst, errorf(CodeUnknownKind, m.Kind.String())
	}
	size := 1 + nf + len(m.Payload)
	for _, f := range fields[:nf] {
		if len(f) > maxBinaryField {
			return dst, errorf(CodeFieldTooLong, itoa(len(f))+" bytes")
		}
		size += len(f)
	}
	dst = grow(dst, size)
	dst = append(dst, kind)
	for _, f := range fields[:nf] {
		dst = append(dst, byte(len(f)))
	}
	for _, f := range fields[:nf] {
		dst = append(dst, f...)
	}
	return append(dst, m.Payload...), nil
}
