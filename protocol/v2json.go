package protocol

type v2JSON struct{}

func (v2JSON) Version() Version { return V2 }

// Decode parses [join_ref, ref, topic, event, payload] (extra trailing
// elements are ignored) or, when binary, a kind-0 push frame.
//
// Topic, event and refs share one string allocation; the payload aliases data.
func (v2JSON) Decode(data []byte, binary bool) (Message, error) {
	if binary {
		return decodeBinaryPush(data)
	}
	if err := validUTF8(data); err != nil {
		return Message{}, err
	}
	i := skipSpace(data, 0)
	if i >= len(data) {
		return Message{}, errorf(CodeNotJSON, "empty frame")
	}
	if data[i] != '[' {
		if _, err := scanValue(data, i, 0); err != nil {
			return Message{}, err
		}
		return Message{}, errorf(CodeShape, "V2 message must be a JSON array")
	}
	var spans [5][2]int
	var escaped [5]bool
	n := 0
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return Message{}, errorf(CodeTooFewElements, "got 0")
	}
	for {
		start := i
		var end int
		var err *Error
		if n < 5 && i < len(data) && data[i] == '"' {
			end, escaped[n], err = scanString(data, i)
		} else {
			end, err = scanValue(data, i, 1)
		}
		if err != nil {
			return Message{}, err
		}
		if n < 5 {
			spans[n] = [2]int{start, end}
		}
		n++
		i = skipSpace(data, end)
		if i >= len(data) {
			return Message{}, errorf(CodeNotJSON, "unterminated array")
		}
		if data[i] == ']' {
			break
		}
		if data[i] != ',' {
			return Message{}, errorf(CodeNotJSON, "expected , or ] in array")
		}
		i = skipSpace(data, i+1)
	}
	if skipSpace(data, i+1) != len(data) {
		return Message{}, errorf(CodeNotJSON, "data after the array")
	}
	if n < 5 {
		return Message{}, errorf(CodeTooFewElements, "got "+itoa(n))
	}
	for f, name := range [...]string{2: "topic", 3: "event"} {
		if name != "" && data[spans[f][0]] != '"' {
			return Message{}, errorf(CodeFieldType, name+" must be a string")
		}
	}
	// One allocation for everything before the payload.
	base := spans[0][0]
	header := string(data[base:spans[4][0]])
	field := func(f int) string { return header[spans[f][0]-base : spans[f][1]-base] }
	str := func(f int) string {
		s := field(f)
		if escaped[f] {
			u, _ := unquoteJSON([]byte(s))
			return u
		}
		return s[1 : len(s)-1]
	}
	ref := func(f int) Ref {
		s := field(f)
		if s[0] == '"' && !escaped[f] {
			return StringRef(s[1 : len(s)-1])
		}
		return RawRef(s)
	}
	return Message{
		Kind:    Push,
		JoinRef: ref(0),
		Ref:     ref(1),
		Topic:   str(2),
		Event:   str(3),
		Payload: data[spans[4][0]:spans[4][1]],
	}, nil
}

// Append encodes m as a V2 JSON array, or as a binary frame if m.Binary.
// It grows dst at most once.
func (v2JSON) Append(dst []byte, m *Message) ([]byte, error) {
	if m.Binary {
		return appendBinary(dst, m)
	}
	if err := checkObjectPayload(m.Payload); err != nil {
		return dst, err
	}
	payload := payloadOrEmpty(m.Payload)
	event := m.Event
	if m.Kind == Reply {
		event = EventReply
	}
	size := 6 + m.JoinRef.jsonLen() + m.Ref.jsonLen() + jsonStringLen(m.Topic) + jsonStringLen(event) + len(payload)
	if m.Kind == Reply {
		size += len(`{"response":,"status":}`) + jsonStringLen(m.Status)
	}
	dst = grow(dst, size)
	dst = append(dst, '[')
	dst = m.JoinRef.appendJSON(dst)
	dst = append(dst, ',')
	dst = m.Ref.appendJSON(dst)
	dst = append(dst, ',')
	dst = appendJSONString(dst, m.Topic)
	dst = append(dst, ',')
	dst = appendJSONString(dst, event)
	dst = append(dst, ',')
	dst = appendPayload(dst, m, payload)
	return append(dst, ']'), nil
}

// appendPayload appends the payload, wrapped as {"response":..,"status":..}
// for replies (keys in the order Phoenix emits them).
func appendPayload(dst []byte, m *Message, payload []byte) []byte {
	if m.Kind != Reply {
		return append(dst, payload...)
	}
	dst = append(dst, `{"response":`...)
	dst = append(dst, payload...)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, m.Status)
	return append(dst, '}')
}

func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
