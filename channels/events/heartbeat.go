package events

import (
	"context"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// heartbeatLease names the cluster lease of one room's heartbeat.
func heartbeatLease(topic string) string { return "heartbeat:" + topic }

// Run sends the heartbeat every HeartbeatInterval, one broadcast per topic
// that has members, until ctx is done. It returns at once when the
// heartbeat is off. Run it on its own goroutine, once per Service.
//
// In a cluster (a PubSub that is a pubsub.Leaser) each room's heartbeat is
// sent by one node only, the holder of the room's lease: every member
// gets one heartbeat per interval, whatever the number of nodes with
// members in the room. The lease lasts 1.5 intervals and its holder renews
// it at every beat; when the holder loses its last member of the room (or
// dies), another node with members takes it over within 1.5 intervals. A
// node that cannot reach the others (the Leaser fails) sends the heartbeat
// to its own members only, so each member still gets one.
func (svc *Service) Run(ctx context.Context) {
	interval := svc.HeartbeatInterval()
	if interval == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	held := map[string]bool{} // leases this node holds, by topic
	for {
		select {
		case <-ctx.Done():
			if l, ok := svc.cfg.PubSub.(pubsub.Leaser); ok && len(held) > 0 {
				releaseCtx, cancel := context.WithTimeout(context.Background(), time.Second)
				l.Release(releaseCtx, leaseNames(keys(held)))
				cancel()
			}
			return
		case <-t.C:
			svc.heartbeat(ctx, interval, held)
		}
	}
}

// heartbeat sends one heartbeat to every topic with members for which this
// node is the sender, all with the same timestamp. held is updated to the
// leases this node holds after the beat.
func (svc *Service) heartbeat(ctx context.Context, interval time.Duration, held map[string]bool) {
	now := svc.cfg.Now()
	topics := svc.Topics()
	send := func(topic string, publish func(*pubsub.Broadcast) error) {
		if err := publish(heartbeatBroadcast(topic, now)); err != nil {
			svc.cfg.Logger.Warn().Err(err).Str("topic", topic).Msg("heartbeat not published")
		}
	}
	leaser, ok := svc.cfg.PubSub.(pubsub.Leaser)
	if !ok {
		for _, topic := range topics {
			send(topic, svc.cfg.PubSub.Publish)
		}
		return
	}
	leaseCtx, cancel := context.WithTimeout(ctx, interval/2)
	got, err := leaser.Lease(leaseCtx, leaseNames(topics), interval*3/2)
	cancel()
	if err != nil {
		svc.cfg.Logger.Debug().Err(err).Msg("heartbeat leases unavailable; beating this node's members only")
		local, ok := svc.cfg.PubSub.(pubsub.LocalPublisher)
		if !ok {
			return
		}
		for _, topic := range topics {
			send(topic, local.PublishLocal)
		}
		return
	}
	// Leases of rooms this node no longer has members in go back at once,
	// so that a node that still has some takes over at its next beat.
	current := make(map[string]bool, len(topics))
	for _, topic := range topics {
		current[topic] = true
	}
	var release []string
	for topic := range held {
		if !current[topic] {
			release = append(release, topic)
		}
	}
	clear(held)
	for i, topic := range topics {
		if got[i] {
			held[topic] = true
			send(topic, svc.cfg.PubSub.Publish)
		}
	}
	if len(release) > 0 {
		releaseCtx, cancel := context.WithTimeout(ctx, interval/2)
		leaser.Release(releaseCtx, leaseNames(release))
		cancel()
	}
}

func heartbeatBroadcast(topic string, now time.Time) *pubsub.Broadcast {
	return pubsub.NewBroadcast(topic, EventHeartbeat, timestampPayload(now))
}

func leaseNames(topics []string) []string {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = heartbeatLease(t)
	}
	return names
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
