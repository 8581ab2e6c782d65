package presenceredis

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Values of a node's mark.
const (
	markUp       = "up"       // its presences are all stored
	markRemoving = "removing" // taken for dead: its presences are being removed
	markDown     = "down"     // taken for dead: its presences were removed
)

func (c *Cluster) topicKey(topic string) string { return c.ps.Key("presence:" + topic) }

func (c *Cluster) topicsKey(node string) string { return c.ps.Key("presence-topics:" + node) }

func (c *Cluster) markKey(node string) string { return c.ps.Key("presence-node:" + node) }

// field is the hash field of a presence: "<node>:<phx_ref>".
func field(node, ref string) string { return node + ":" + ref }

// stored is the hash value of a presence.
type stored struct {
	Key  string          `json:"key"`
	Meta json.RawMessage `json:"meta"`
}

func encodeValue(m presence.Member) string {
	q, _ := json.Marshal(m.Key) // a string always marshals
	b := make([]byte, 0, len(q)+len(m.Meta)+len(`{"key":,"meta":}`))
	b = append(b, `{"key":`...)
	b = append(b, q...)
	b = append(b, `,"meta":`...)
	b = append(b, m.Meta...)
	return string(append(b, '}'))
}

var errValue = errors.New("presenceredis: malformed presence in redis")

// decodeMember decodes the field and value of a stored presence.
func decodeMember(f, v string) (node string, m presence.Member, err error) {
	node, ref, ok := strings.Cut(f, ":")
	if !ok {
		return "", m, errValue
	}
	var s stored
	if err := json.Unmarshal([]byte(v), &s); err != nil || len(s.Meta) == 0 || s.Meta[0] != '{' {
		return "", m, errValue
	}
	return node, presence.Member{Key: s.Key, Ref: ref, Meta: s.Meta}, nil
}

// Publish implements presence.Cluster: c's writes run in b's publish
// pipeline, right before its PUBLISH (redis.PubSub.PublishWith). They are
// idempotent, as a retried pipeline requires. It does not block.
func (c *Cluster) Publish(b *pubsub.Broadcast, ch presence.Change) error {
	node := ch.Node
	if node == "" {
		node = c.node
	}
	hash, set := c.topicKey(ch.Topic), c.topicsKey(node)
	var del []string
	for _, m := range ch.Leaves {
		del = append(del, field(node, m.Ref))
	}
	var put []any
	for _, m := range ch.Joins {
		put = append(put, field(node, m.Ref), encodeValue(m))
	}
	before := func(ctx context.Context, pipe goredis.Pipeliner) {
		if len(del) > 0 {
			pipe.HDel(ctx, hash, del...)
		}
		if len(put) > 0 {
			pipe.HSet(ctx, hash, put...)
			pipe.SAdd(ctx, set, ch.Topic)
		}
		if ch.Empty {
			pipe.SRem(ctx, set, ch.Topic)
		}
	}
	if b == nil {
		return c.barrier(before)
	}
	return c.ps.PublishWith(b, before)
}

// PublishLocal implements presence.Cluster.
func (c *Cluster) PublishLocal(b *pubsub.Broadcast) error { return c.ps.PublishLocal(b) }

// Load implements presence.Cluster: one HGETALL of the topic, and this
// node's mark, which tells whether Redis may have lost data lately.
func (c *Cluster) Load(ctx context.Context, topic string) (presence.Snapshot, error) {
	var snap presence.Snapshot
	pipe := c.client.Pipeline()
	all := pipe.HGetAll(ctx, c.topicKey(topic))
	mark := pipe.Get(ctx, c.markKey(c.node))
	_, _ = pipe.Exec(ctx)
	if err := all.Err(); err != nil {
		c.failed(err, topic, "presences of other nodes not loaded from redis; retrying")
		return snap, err
	}
	if err := mark.Err(); err != nil && err != goredis.Nil {
		c.failed(err, topic, "presences of other nodes not loaded from redis; retrying")
		return snap, err
	}
	prefix := c.node + ":"
	bad := 0
	for f, v := range all.Val() {
		if strings.HasPrefix(f, prefix) {
			continue // this node's own: the Presence has them
		}
		_, m, err := decodeMember(f, v)
		if err != nil {
			bad++
			continue
		}
		snap.Members = append(snap.Members, m)
	}
	if bad > 0 && c.warn.allow() {
		c.log.Warn().Str("topic", topic).Int("presences", bad).Msg("malformed presences in redis ignored")
	}
	switch rejoined := c.rejoinedAt.Load(); {
	case mark.Val() != markUp:
		// This node's own presences are not marked stored: Redis lost its
		// data and this node has not rejoined yet (or it starts).
		snap.RetryAfter = c.settle
	case rejoined != 0:
		if since := time.Since(time.Unix(0, rejoined)); since < c.settle {
			snap.RetryAfter = c.settle - since
		}
	}
	return snap, nil
}

// failed logs a Redis failure, at most once per warnEvery.
func (c *Cluster) failed(err error, topic, msg string) {
	if c.warn.allow() {
		c.log.Warn().Err(err).Str("topic", topic).Msg(msg)
	}
}
