// Package presenceredis shares a presence.Presence across the nodes of a
// cluster through Redis, next to the Redis PubSub (channels/pubsub/redis)
// the nodes already share: every node's presence_state lists the members of
// every node, and the members of a node that dies without a goodbye leave
// every list, with a presence_diff, once the PubSub takes it for dead
// (within 4/3 of redis.Config.NodeDownAfter).
//
// # In Redis
//
//	<prefix>:presence:<topic>         hash: "<node>:<phx_ref>" -> {"key":...,"meta":{...}}
//	<prefix>:presence-topics:<node>   set: the topics where node has presences
//	<prefix>:presence-node:<node>     "up" while node's presences are all stored;
//	                                  "down" (for a day) once removed for its death
//
// Each node writes only its own presences, in the publish pipeline of the
// presence_diff that announces them (redis.PubSub.PublishWith), so the
// store and the broadcasts of one node change in the same order, and a
// node that receives a diff finds its change in the store already. There
// is no gossip: a node reads the store once when a topic gets its first
// member here, and follows the diffs from then on (see presence.SetCluster).
//
// # When things go wrong
//
// A dead node's presences are removed by the one node that the PubSub
// tells (OnNodeDown), with one presence_diff per topic. A node that finds
// itself taken for dead, or finds that Redis lost its data (OnRejoin),
// stores its presences again, announcing them only in the first case
// (the others removed them; in the second they still show them). A node
// whose subscription was down (OnResubscribed) loads every topic again and
// tells its own clients what changed meanwhile. While Redis may still
// miss the presences of nodes that have not stored theirs again after a
// data loss (2/3 NodeDownAfter after this node's own rejoin, since every
// live node rejoins within NodeDownAfter/3), loads only add presences.
package presenceredis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
)

// downTTL is how long a dead node's "down" mark stays: if the node was only
// stalled and comes back within it, it announces its presences again.
const downTTL = 24 * time.Hour

// opTimeout bounds the Redis calls this package makes itself.
const opTimeout = 2 * time.Second

// Config configures Attach. The zero value works.
type Config struct {
	// Logger receives Redis failures (rate-limited) and cluster events.
	// Nil means no logging.
	Logger *zerolog.Logger
}

// Cluster implements presence.Cluster on a redis.PubSub. Attach makes one;
// Close detaches it. Its methods are safe for concurrent use: Publish and
// PublishLocal only queue (they run with a topic of the Presence locked),
// Load waits for Redis until its context ends. The PubSub's callbacks
// (OnNodeDown, OnRejoin, OnResubscribed) run on the PubSub's goroutines
// and call into the Presence through its Replication.
type Cluster struct {
	ps     *redis.PubSub
	client goredis.UniversalClient
	node   string
	repl   *presence.Replication
	log    zerolog.Logger
	warn   rateLimit

	settle     time.Duration // how long after a rejoin the store may miss other nodes' presences
	rejoinedAt atomic.Int64  // UnixNano of this node's last rejoin, 0 if none
	closeMu    sync.Mutex    // orders Close against starting a rewrite
	closed     atomic.Bool
	done       chan struct{}  // closed by Close
	wg         sync.WaitGroup // rewrite
}

// Attach makes p, a Presence made with presence.New(ps), share its state
// with every node of ps's cluster. Call it before p is used, and Close
// before ps.Close.
func Attach(p *presence.Presence, ps *redis.PubSub, cfg Config) *Cluster {
	c := &Cluster{ps: ps, client: ps.Client(), node: ps.NodeID(), log: zerolog.Nop(), done: make(chan struct{})}
	if cfg.Logger != nil {
		c.log = cfg.Logger.With().Str("component", "presence").Logger()
	}
	c.settle = ps.NodeDownAfter() * 2 / 3
	c.repl = p.SetCluster(c)
	ps.OnNodeDown(c.nodeDown)
	ps.OnRejoin(c.rejoined)
	ps.OnResubscribed(c.resubscribed)
	// Queued: Redis runs it once reachable, before any change of this
	// node's presences.
	_ = c.barrier(func(ctx context.Context, pipe goredis.Pipeliner) {
		pipe.Set(ctx, c.markKey(c.node), markUp, 0)
	})
	return c
}

// Close removes this node's presences from every list, as a node leaving
// the cluster must (a node that closes its PubSub is never taken for dead,
// so nobody else would), and from Redis. Call it when the node stops, once
// it accepts no more joins, and before closing the PubSub, whose Close
// sends what Close queued. It stops the handling of other nodes' deaths
// and of this node's rejoins.
func (c *Cluster) Close() error {
	c.closeMu.Lock()
	if c.closed.Swap(true) {
		c.closeMu.Unlock()
		return nil
	}
	close(c.done)
	c.closeMu.Unlock()
	c.wg.Wait()
	err := c.repl.Leave()
	_ = c.barrier(func(ctx context.Context, pipe goredis.Pipeliner) {
		pipe.Del(ctx, c.markKey(c.node), c.topicsKey(c.node))
	})
	return err
}

// rejoined is the PubSub's OnRejoin: this node was taken for dead, or
// Redis lost its data. It runs on the PubSub's liveness goroutine, which
// must not wait: the work is done by rewrite.
func (c *Cluster) rejoined() {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed.Load() {
		return
	}
	c.rejoinedAt.Store(time.Now().UnixNano())
	c.wg.Go(c.rewrite)
}

// removalWait bounds how long a rejoining node waits for another node to
// finish removing its presences.
const removalWait = 10 * time.Second

// rewrite stores this node's presences again, and announces them if the
// others removed them (the mark says "down"), once that removal is over.
// A removal can no longer start: this node is a member again.
func (c *Cluster) rewrite() {
	deadline := time.Now().Add(removalWait)
	var mark string
	var err error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		mark, err = c.client.Get(ctx, c.markKey(c.node)).Result()
		cancel()
		if mark != markRemoving || time.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-c.done:
			return
		}
	}
	if c.closed.Load() {
		return
	}
	// Unsure (the read failed, or the removal never ended): announce. A
	// client that sees a join twice keeps one meta; one that never sees it
	// misses a member.
	announce := mark == markDown || mark == markRemoving || err != nil && err != goredis.Nil
	_ = c.repl.Rewrite(announce)
	_ = c.barrier(func(ctx context.Context, pipe goredis.Pipeliner) {
		pipe.Set(ctx, c.markKey(c.node), markUp, 0)
	})
	c.log.Info().Bool("announced", announce).Msg("presences stored in redis again after this node rejoined the cluster")
}

// resubscribed is the PubSub's OnResubscribed: broadcasts may have been
// missed, so every replicated topic loads again.
func (c *Cluster) resubscribed() {
	if c.closed.Load() {
		return
	}
	c.repl.Reload()
}

// rateLimit lets a repeated warning through once per interval.
type rateLimit struct {
	last atomic.Int64
}

const warnEvery = 10 * time.Second

func (r *rateLimit) allow() bool {
	now := time.Now().UnixNano()
	last := r.last.Load()
	return now-last >= int64(warnEvery) && r.last.CompareAndSwap(last, now)
}

// barrier queues before in this node's publish pipeline, after everything
// queued so far, with no broadcast of its own.
func (c *Cluster) barrier(before func(ctx context.Context, pipe goredis.Pipeliner)) error {
	return c.ps.PublishWith(nil, before)
}
