package protocol

// Frame is one encoded message ready for a transport: the bytes of a
// WebSocket message and whether it goes out as a binary frame.
type Frame struct {
	Data   []byte
	Binary bool
}

// Encode encodes m with s into a new frame. m is not retained: with the
// package's serializers it may live on the caller's stack.
func Encode(s Serializer, m *Message) (Frame, error) {
	var data []byte
	var err error
	// The package's serializers are called directly, so that m does not
	// escape through the interface call (a Message allocation per reply and
	// push saved); others get a copy.
	switch ser := s.(type) {
	case v2JSON:
		data, err = ser.Append(nil, m)
	case v1JSON:
		data, err = ser.Append(nil, m)
	default:
		c := *m
		data, err = s.Append(nil, &c)
	}
	if err != nil {
		return Frame{}, err
	}
	return Frame{Data: data, Binary: m.Binary}, nil
}
