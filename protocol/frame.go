package protocol

// Frame is one encoded message ready for a transport: the bytes of a
// WebSocket message and whether it goes out as a binary frame.
type Frame struct {
	Data   []byte
	Binary bool
}

// Encode encodes m with s into a new frame.
func Encode(s Serializer, m *Message) (Frame, error) {
	data, err := s.Append(nil, m)
	if err != nil {
		return Frame{}, err
	}
	return Frame{Data: data, Binary: m.Binary}, nil
}
