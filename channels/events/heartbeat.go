package events

import (
	"context"
	"time"
)

// Run sends the heartbeat every HeartbeatInterval, one broadcast per topic
// that has members, until ctx is done. It returns at once when the
// heartbeat is off. Run it on its own goroutine, once per Service.
func (svc *Service) Run(ctx context.Context) {
	interval := svc.HeartbeatInterval()
	if interval == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			svc.heartbeat()
		}
	}
}

// heartbeat sends one heartbeat to every topic with members, all with the
// same timestamp.
func (svc *Service) heartbeat() {
	now := svc.cfg.Now()
	for _, topic := range svc.Topics() {
		if err := svc.sendHeartbeat(topic, now); err != nil {
			svc.cfg.Logger.Warn().Err(err).Str("topic", topic).Msg("heartbeat not published")
		}
	}
}
