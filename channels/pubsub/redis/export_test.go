package redis

import (
	"context"
	"time"
)

// Crash stops p as a killed process would: no goodbye to the cluster, its
// liveness key left to expire.
func (p *PubSub) Crash() {
	p.queue.Close()
	p.cancel()
	p.subs.closeConn()
	p.wg.Wait()
}

// RenewNow runs one round of liveness renewal and reaping at once.
func (p *PubSub) RenewNow() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.renew(ctx)
	p.reap(ctx)
}
