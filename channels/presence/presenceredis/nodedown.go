package presenceredis

import (
	"context"
	"sort"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/presence"
)

// nodeDownAttempts bounds how often removing a dead node's presences is
// tried while Redis fails; nodeDownBackoff is the first wait between tries.
const (
	nodeDownAttempts = 8
	nodeDownBackoff  = 250 * time.Millisecond
)

// startRemoval marks a node's presences as being removed ("removing"),
// unless the node is a member of the cluster again (the key is the
// PubSub's member set, see nodes.go in package redis): a node taken for
// dead that renews its liveness before this runs keeps its presences, and
// one that renews after waits for the removal to end (see rewrite).
// Either way no node announces its presences while they are being removed.
var startRemoval = goredis.NewScript(`
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`)

// removingTTL bounds the "removing" mark, should the node removing the
// presences die meanwhile.
const removingTTL = 30 * time.Second

// nodeDown is the PubSub's OnNodeDown, called on this node alone for a dead
// node: for each topic where the node had presences, they leave every list
// in one presence_diff and are removed from Redis in its pipeline. Then
// the node's topic set goes and its mark says "down", queued after those
// diffs. It runs on a goroutine of its own.
func (c *Cluster) nodeDown(node string) {
	done := make(map[string]bool) // topics whose diff is queued already
	removed := 0
	backoff := nodeDownBackoff
	started := false
	for attempt := 1; ; attempt++ {
		if c.closed.Load() {
			return
		}
		var n int
		var err error
		if !started {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			var ok int
			ok, err = startRemoval.Run(ctx, c.client, []string{c.ps.Key("nodes"), c.markKey(node)},
				node, markRemoving, removingTTL.Milliseconds()).Int()
			cancel()
			if err == nil && ok == 0 {
				c.log.Info().Str("node", node).Msg("a node taken for dead is back: its presences stay")
				return
			}
			started = err == nil
		}
		if started {
			n, err = c.removeNode(node, done)
		}
		removed += n
		if err == nil {
			break
		}
		if attempt == nodeDownAttempts {
			c.log.Error().Err(err).Str("dead_node", node).Int("presences_removed", removed).
				Msg("presences of a dead node not all removed: redis keeps failing; they stay in other nodes' lists")
			return
		}
		c.failed(err, "", "removing a dead node's presences failed; retrying")
		select {
		case <-time.After(backoff):
		case <-c.done:
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	_ = c.barrier(func(ctx context.Context, pipe goredis.Pipeliner) {
		pipe.Del(ctx, c.topicsKey(node))
		pipe.Set(ctx, c.markKey(node), markDown, downTTL)
	})
	c.log.Info().Str("dead_node", node).Int("presences", removed).Int("topics", len(done)).
		Msg("presences of a dead node left every list")
}

// removeNode publishes the leaves of node's presences for each of its
// topics not done yet, and returns how many.
func (c *Cluster) removeNode(node string, done map[string]bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	topics, err := c.client.SMembers(ctx, c.topicsKey(node)).Result()
	cancel()
	if err != nil {
		return 0, err
	}
	sort.Strings(topics)
	n := 0
	for _, topic := range topics {
		if done[topic] {
			continue
		}
		members, err := c.nodeMembers(node, topic)
		if err != nil {
			return n, err
		}
		done[topic] = true
		if len(members) == 0 {
			continue
		}
		if err := c.repl.NodeDown(node, topic, members); err != nil {
			c.failed(err, topic, "leave of a dead node's presences not sent to the other nodes")
		}
		n += len(members)
	}
	return n, nil
}

// nodeMembers reads node's presences on topic.
func (c *Cluster) nodeMembers(node, topic string) ([]presence.Member, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var out []presence.Member
	seen := make(map[string]bool) // HSCAN may return a field twice
	// Node ids are of A-Z a-z 0-9 _ -, no glob character.
	iter := c.client.HScan(ctx, c.topicKey(topic), 0, field(node, "*"), 512).Iterator()
	for iter.Next(ctx) {
		f := iter.Val()
		if !iter.Next(ctx) {
			break
		}
		if _, m, err := decodeMember(f, iter.Val()); err == nil && !seen[f] {
			seen[f] = true
			out = append(out, m)
		}
	}
	return out, iter.Err()
}
