package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/server"
)

// redisCollector exposes the Redis adapter's counters, and the LongPoll
// requests relayed to other nodes, at scrape time.
type redisCollector struct {
	ps *redis.PubSub
	ep *server.Endpoint
}

var (
	descRedisUp = prometheus.NewDesc("fawkes_redis_up",
		"1 while this node's Redis subscription is live, 0 while Redis is unreachable.", nil, nil)
	descRedisOutages = prometheus.NewDesc("fawkes_redis_outages_total",
		"Times Redis became unreachable (a stall without answer or a lost connection).", nil, nil)
	descRedisBroadcasts = prometheus.NewDesc("fawkes_redis_broadcasts_total",
		"Broadcasts by direction and outcome: published (to other nodes), received (from other nodes), dropped (queue full or closing: other nodes missed them), duplicate (a copy or late broadcast dropped on receipt).", []string{"result"}, nil)
	descRedisRetries = prometheus.NewDesc("fawkes_redis_publish_retries_total",
		"Publish batches sent again after a failure (receivers drop the copies).", nil, nil)
	descRedisMalformed = prometheus.NewDesc("fawkes_redis_malformed_total",
		"Messages from Redis that could not be decoded and were ignored.", nil, nil)
	descRedisQueued = prometheus.NewDesc("fawkes_redis_queued_broadcasts",
		"Broadcasts waiting to be published to Redis.", nil, nil)
	descLongPollForwards = prometheus.NewDesc("fawkes_longpoll_forwards_total",
		"LongPoll requests for a session of another node, by result: forwarded (answered by the owner), owner_gone (no such node or session: a new session is opened), failed (no answer in time).", []string{"result"}, nil)
)

// Describe implements prometheus.Collector.
func (c redisCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRedisUp, descRedisOutages, descRedisBroadcasts, descRedisRetries, descRedisMalformed, descRedisQueued, descLongPollForwards} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c redisCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.ps.Stats()
	up := 0.0
	if st.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descRedisUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descRedisOutages, prometheus.CounterValue, float64(st.Outages))
	for result, v := range map[string]int64{"published": st.Published, "received": st.Received, "dropped": st.Dropped, "duplicate": st.Duplicates} {
		ch <- prometheus.MustNewConstMetric(descRedisBroadcasts, prometheus.CounterValue, float64(v), result)
	}
	ch <- prometheus.MustNewConstMetric(descRedisRetries, prometheus.CounterValue, float64(st.Retried))
	ch <- prometheus.MustNewConstMetric(descRedisMalformed, prometheus.CounterValue, float64(st.Malformed))
	ch <- prometheus.MustNewConstMetric(descRedisQueued, prometheus.GaugeValue, float64(st.Queued))
	forwarded, gone, failed := c.ep.Stats().LongPollForwards()
	for result, v := range map[string]int64{"forwarded": forwarded, "owner_gone": gone, "failed": failed} {
		ch <- prometheus.MustNewConstMetric(descLongPollForwards, prometheus.CounterValue, float64(v), result)
	}
}

// observeRedis adds the Redis adapter's series to /metrics.
func (m *metrics) observeRedis(ps *redis.PubSub, ep *server.Endpoint) {
	m.reg.MustRegister(redisCollector{ps: ps, ep: ep})
}
