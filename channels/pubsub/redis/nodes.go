package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Node liveness, in Redis:
//
//	<prefix>:node:<id>  a key each live node renews every NodeDownAfter/3,
//	                    expiring NodeDownAfter after the last renewal
//	<prefix>:nodes      the set of node ids that are members
//
// Every node looks for members whose key has expired; the one whose SREM
// removes the id from the set (Redis runs it once) declares that node down
// and runs the OnNodeDown callbacks, so each death is handled by exactly
// one node. A node that finds itself no longer a member (it was taken for
// dead during a partition, or Redis lost its data) joins again and runs the
// OnRejoin callbacks, so it can put its state back.

// nodes holds the liveness callbacks.
type nodes struct {
	mu           sync.Mutex
	down         []func(node string)
	rejoin       []func()
	resubscribed []func()
	joined       bool // this node has been a member once
}

// OnNodeDown adds f, called with the id of a node that stopped renewing its
// liveness key, on exactly one of the surviving nodes, NodeDownAfter to
// about 4/3 NodeDownAfter after its last renewal. f runs on a goroutine of
// its own and may use Redis and publish.
func (p *PubSub) OnNodeDown(f func(node string)) {
	p.nodes.mu.Lock()
	defer p.nodes.mu.Unlock()
	p.nodes.down = append(p.nodes.down, f)
}

// OnRejoin adds f, called when this node finds it is no longer a member of
// the cluster (another node declared it down, or Redis lost its data) and
// has joined again: whatever the node keeps in Redis may be gone and should
// be written again. f runs on the liveness goroutine: it may use Redis and
// publish, and should not take long.
func (p *PubSub) OnRejoin(f func()) {
	p.nodes.mu.Lock()
	defer p.nodes.mu.Unlock()
	p.nodes.rejoin = append(p.nodes.rejoin, f)
}

// OnResubscribed adds f, called when the node's subscription is live again
// after an outage: broadcasts of the other nodes may have been missed
// meanwhile, so state derived from them should be read again. f runs on a
// goroutine of its own.
func (p *PubSub) OnResubscribed(f func()) {
	p.nodes.mu.Lock()
	defer p.nodes.mu.Unlock()
	p.nodes.resubscribed = append(p.nodes.resubscribed, f)
}

func (n *nodes) runResubscribed(p *PubSub) {
	n.mu.Lock()
	fs := append([]func(){}, n.resubscribed...)
	n.mu.Unlock()
	for _, f := range fs {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			f()
		}()
	}
}

func (p *PubSub) nodeKey(id string) string { return p.cfg.Prefix + ":node:" + id }

func (p *PubSub) membersKey() string { return p.cfg.Prefix + ":nodes" }

// reapScript removes a node from the members only if its liveness key is
// gone, and reports whether this call removed it.
var reapScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('SREM', KEYS[2], ARGV[1])`)

// keepAlive renews this node's liveness and looks for dead nodes, every
// NodeDownAfter/3, until Close.
func (p *PubSub) keepAlive() {
	defer p.wg.Done()
	every := p.cfg.NodeDownAfter / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if p.health.up.Load() {
			ctx, cancel := context.WithTimeout(p.ctx, every)
			p.renew(ctx)
			p.reap(ctx)
			cancel()
		}
		// Until the node is connected, it also wakes when it connects, so
		// that it joins the cluster at once: a node killed before its first
		// renewal would never be declared dead.
		var connected <-chan struct{}
		if !p.health.up.Load() {
			connected = p.health.changed()
		}
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		case <-connected:
		}
	}
}

// renew refreshes the liveness key and joins the members, running the
// OnRejoin callbacks when this node had been removed.
func (p *PubSub) renew(ctx context.Context) {
	pipe := p.client.TxPipeline()
	pipe.Set(ctx, p.nodeKey(p.nodeS), "1", p.cfg.NodeDownAfter)
	added := pipe.SAdd(ctx, p.membersKey(), p.nodeS)
	if _, err := pipe.Exec(ctx); err != nil {
		p.log.Debug().Err(err).Msg("node liveness not renewed")
		return
	}
	if added.Val() == 0 {
		return
	}
	p.nodes.mu.Lock()
	first := !p.nodes.joined
	p.nodes.joined = true
	fs := append([]func(){}, p.nodes.rejoin...)
	p.nodes.mu.Unlock()
	if first {
		return
	}
	p.log.Warn().Str("node", p.nodeS).Msg("this node had been taken for dead by the cluster (or redis lost its data); joined again")
	for _, f := range fs {
		f()
	}
}

// reap declares down every member whose liveness key expired.
func (p *PubSub) reap(ctx context.Context) {
	members, err := p.client.SMembers(ctx, p.membersKey()).Result()
	if err != nil {
		return
	}
	for _, id := range members {
		if id == p.nodeS {
			continue
		}
		n, err := reapScript.Run(ctx, p.client, []string{p.nodeKey(id), p.membersKey()}, id).Int()
		if err != nil || n != 1 {
			continue
		}
		p.log.Warn().Str("dead_node", id).Dur("after_ms", p.cfg.NodeDownAfter).Msg("node stopped renewing its liveness; taken for dead")
		p.nodes.mu.Lock()
		fs := append([]func(string){}, p.nodes.down...)
		p.nodes.mu.Unlock()
		for _, f := range fs {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				f(id)
			}()
		}
	}
}

// leave removes this node from the cluster on Close, so that no other node
// runs its OnNodeDown callbacks for it (a node that stops cleanly has
// cleaned up after itself).
func (p *PubSub) leave(ctx context.Context) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
	}
	pipe := p.client.TxPipeline()
	pipe.SRem(ctx, p.membersKey(), p.nodeS)
	pipe.Del(ctx, p.nodeKey(p.nodeS))
	_, _ = pipe.Exec(ctx)
}
