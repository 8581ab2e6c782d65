package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis"
)

// phoenixCollector exposes the Elixir bridge's counters (--pubsub
// phoenix-redis) at scrape time.
type phoenixCollector struct{ b *phoenixredis.PubSub }

var (
	descPhoenixUp = prometheus.NewDesc("fawkes_phoenix_up",
		"1 while this node is subscribed to the Elixir app's Phoenix.PubSub channel.", nil, nil)
	descPhoenixSent = prometheus.NewDesc("fawkes_phoenix_broadcasts_sent_total",
		"Broadcasts sent to the Elixir nodes, by result: sent, dropped (queue full, closing or failed), kept (kept on the Fawkes side, e.g. presence), unencodable (no Elixir form).", []string{"result"}, nil)
	descPhoenixReceived = prometheus.NewDesc("fawkes_phoenix_messages_received_total",
		"Messages taken from the Phoenix.PubSub channel, by what became of them (delivered, or why they were skipped).", []string{"result"}, nil)
	descPhoenixOutages = prometheus.NewDesc("fawkes_phoenix_outages_total",
		"Times the subscription to the Phoenix.PubSub channel was lost.", nil, nil)
	descPhoenixQueued = prometheus.NewDesc("fawkes_phoenix_queued_broadcasts",
		"Broadcasts waiting to be sent to the Elixir nodes.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c phoenixCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPhoenixUp, descPhoenixSent, descPhoenixReceived, descPhoenixOutages, descPhoenixQueued} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c phoenixCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.BridgeStats()
	up := 0.0
	if st.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descPhoenixUp, prometheus.GaugeValue, up)
	for result, v := range map[string]int64{"sent": st.Sent, "dropped": st.Dropped, "kept": st.Kept, "unencodable": st.Unencodable} {
		ch <- prometheus.MustNewConstMetric(descPhoenixSent, prometheus.CounterValue, float64(v), result)
	}
	for i, v := range st.Received {
		ch <- prometheus.MustNewConstMetric(descPhoenixReceived, prometheus.CounterValue, float64(v), phoenixredis.SkipReason(i).String())
	}
	ch <- prometheus.MustNewConstMetric(descPhoenixOutages, prometheus.CounterValue, float64(st.Outages))
	ch <- prometheus.MustNewConstMetric(descPhoenixQueued, prometheus.GaugeValue, float64(st.Queued))
}

// observePhoenix adds the Elixir bridge's series to /metrics when ps is
// the bridge.
func (m *metrics) observePhoenix(ps any) {
	if b, ok := ps.(*phoenixredis.PubSub); ok {
		m.reg.MustRegister(phoenixCollector{b})
	}
}
