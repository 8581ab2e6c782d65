package redis

import (
	"encoding/binary"
	"errors"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// An envelope carries one broadcast between nodes:
//
//	version(1) node(16) flags(1) uvarint(len topic) topic uvarint(len event) event payload
//
// flags bit 0 marks a binary payload. The node id lets a node skip its own
// broadcasts, which Redis echoes back.
const (
	envelopeVersion = 1
	nodeIDLen       = 16
	flagBinary      = 1
)

var errEnvelope = errors.New("redis pubsub: malformed envelope")

func encodeEnvelope(node [nodeIDLen]byte, b *pubsub.Broadcast) []byte {
	buf := make([]byte, 0, 2+nodeIDLen+2*binary.MaxVarintLen32+len(b.Topic)+len(b.Event)+len(b.Payload))
	buf = append(buf, envelopeVersion)
	buf = append(buf, node[:]...)
	var flags byte
	if b.Binary {
		flags |= flagBinary
	}
	buf = append(buf, flags)
	buf = binary.AppendUvarint(buf, uint64(len(b.Topic)))
	buf = append(buf, b.Topic...)
	buf = binary.AppendUvarint(buf, uint64(len(b.Event)))
	buf = append(buf, b.Event...)
	return append(buf, b.Payload...)
}

func decodeEnvelope(data []byte) (node [nodeIDLen]byte, b *pubsub.Broadcast, err error) {
	if len(data) < 2+nodeIDLen || data[0] != envelopeVersion {
		return node, nil, errEnvelope
	}
	copy(node[:], data[1:1+nodeIDLen])
	flags := data[1+nodeIDLen]
	rest := data[2+nodeIDLen:]
	topic, rest, ok := cutField(rest)
	if !ok {
		return node, nil, errEnvelope
	}
	event, payload, ok := cutField(rest)
	if !ok {
		return node, nil, errEnvelope
	}
	b = pubsub.NewBroadcast(string(topic), string(event), payload)
	b.Binary = flags&flagBinary != 0
	return node, b, nil
}

func cutField(data []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return nil, nil, false
	}
	return data[k : k+int(n)], data[k+int(n):], true
}
