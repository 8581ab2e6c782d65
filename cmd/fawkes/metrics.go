package main

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
)

// metrics is what GET /metrics exposes. Hot paths touch only pre-resolved
// counters and histograms (atomic adds): the endpoint's own Stats are read
// at scrape time, and the hooks pick their series with a switch, never a
// locked map. Only the channels gauge, changed per join and leave, looks
// its prefix up in a sync.Map.
type metrics struct {
	reg *prometheus.Registry

	joins       []prometheus.Counter // by server.JoinStatus
	joinLatency prometheus.Histogram
	channels    *prometheus.GaugeVec
	prefixes    sync.Map // topic prefix -> prometheus.Gauge
	nPrefixes   atomic.Int32

	broadcasts prometheus.Counter
	deliveries prometheus.Counter
	fanout     prometheus.Histogram

	rejected [numRejectReasons]atomic.Int64 // events channel, read by statsCollector

	ingress   *prometheus.CounterVec
	ingressBy sync.Map // status code -> prometheus.Counter
}

// maxPrefixes bounds the label values of fawkes_channels: topics are chosen
// by clients, so past this many distinct prefixes the rest count as
// "other".
const maxPrefixes = 100

const (
	rejectInvalidCloudEvent = iota
	rejectInvalidSubscription
	rejectUnknownEvent
	rejectBinary
	rejectOther
	numRejectReasons
)

var rejectReasons = [numRejectReasons]string{
	events.ReasonInvalidCloudEvent, events.ReasonInvalidSubscription, events.ReasonUnknownEvent, events.ReasonBinaryNotSupported, "other_channel_error",
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	joins := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fawkes_joins_total",
		Help: "Channel join attempts by outcome: ok, error (refused by the channel), unmatched (no route), too_many (channel limit), crashed.",
	}, []string{"status"})
	statuses := server.JoinStatuses()
	m.joins = make([]prometheus.Counter, statuses[len(statuses)-1]+1)
	for _, s := range statuses {
		m.joins[s] = joins.WithLabelValues(s.String())
	}
	m.joinLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "fawkes_join_duration_seconds",
		Help:    "Time to handle a phx_join, from dispatch to reply.",
		Buckets: prometheus.ExponentialBuckets(25e-6, 4, 9), // 25µs .. 1.6s
	})
	m.channels = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fawkes_channels",
		Help: `Joined channels by topic prefix (the topic up to and including the first ":").`,
	}, []string{"prefix"})
	m.broadcasts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fawkes_broadcasts_total",
		Help: "Broadcasts published on this node (events, heartbeats, presence diffs, ...).",
	})
	m.deliveries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fawkes_broadcast_deliveries_total",
		Help: "Subscribers broadcasts were handed to, before the channels' filters.",
	})
	m.fanout = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "fawkes_broadcast_fanout_duration_seconds",
		Help:    "Time to hand one broadcast to every subscriber on this node.",
		Buckets: prometheus.ExponentialBuckets(5e-6, 4, 10), // 5µs .. 1.3s
	})
	m.ingress = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fawkes_ingress_requests_total",
		Help: "Requests to POST /events/{room} by HTTP status code.",
	}, []string{"code"})
	for _, code := range []int{202, 400, 401, 404, 405, 413, 415, 503} {
		m.ingressBy.Store(code, m.ingress.WithLabelValues(strconv.Itoa(code)))
	}
	m.reg.MustRegister(buildInfo(), joins, m.joinLatency, m.channels, m.broadcasts, m.deliveries, m.fanout, m.ingress,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeEndpoint registers the series read from ep at scrape time.
func (m *metrics) observeEndpoint(ep *server.Endpoint) {
	m.reg.MustRegister(&statsCollector{ep: ep, m: m})
}

// handler serves the exposition.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// hooks are the endpoint's Mux hooks.
func (m *metrics) hooks() channels.Hooks {
	return channels.Hooks{
		Joined: func(topic, status string, took time.Duration) {
			s := server.ParseJoinStatus(status)
			if s == server.JoinOK {
				m.channel(topic).Inc()
			}
			m.joins[s].Inc()
			m.joinLatency.Observe(took.Seconds())
		},
		Terminated: func(topic string, _ channels.Reason) { m.channel(topic).Dec() },
	}
}

// channel returns the gauge of topic's prefix.
func (m *metrics) channel(topic string) prometheus.Gauge {
	prefix := topic
	if i := strings.IndexByte(topic, ':'); i >= 0 {
		prefix = topic[:i+1]
	}
	if g, ok := m.prefixes.Load(prefix); ok {
		return g.(prometheus.Gauge)
	}
	if m.nPrefixes.Add(1) > maxPrefixes {
		prefix = "other"
		if g, ok := m.prefixes.Load(prefix); ok {
			return g.(prometheus.Gauge)
		}
	}
	g, _ := m.prefixes.LoadOrStore(prefix, m.channels.WithLabelValues(prefix))
	return g.(prometheus.Gauge)
}

// published is pubsub.Local's Observe.
func (m *metrics) published(_ *pubsub.Broadcast, delivered int, took time.Duration) {
	m.broadcasts.Inc()
	m.deliveries.Add(float64(delivered))
	m.fanout.Observe(took.Seconds())
}

// rejectedMessage is the events channel's Rejected hook.
func (m *metrics) rejectedMessage(reason string) {
	i := rejectOther
	switch reason {
	case events.ReasonInvalidCloudEvent:
		i = rejectInvalidCloudEvent
	case events.ReasonInvalidSubscription:
		i = rejectInvalidSubscription
	case events.ReasonUnknownEvent:
		i = rejectUnknownEvent
	case events.ReasonBinaryNotSupported:
		i = rejectBinary
	}
	m.rejected[i].Add(1)
}

// ingressAnswered counts one ingress answer.
func (m *metrics) ingressAnswered(code int) {
	if c, ok := m.ingressBy.Load(code); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	m.ingress.WithLabelValues(strconv.Itoa(code)).Inc()
}

// statsCollector exposes the endpoint's Stats and the error counters at
// scrape time.
type statsCollector struct {
	ep *server.Endpoint
	m  *metrics
}

var (
	descConnections = prometheus.NewDesc("fawkes_connections",
		"Open connections by transport (LongPoll sessions are transport=\"longpoll\").", []string{"transport"}, nil)
	descClosed = prometheus.NewDesc("fawkes_connections_closed_total",
		"Connections ended, by close reason: slow_consumer (outbox overflow), idle_timeout (no heartbeat within --idle-timeout), write_timeout (a write stuck for over 10 s), peer_reset (the client reset the connection), shutdown (drained with 1012), ...", []string{"reason"}, nil)
	descMessagesIn = prometheus.NewDesc("fawkes_messages_received_total",
		"Messages received from clients, by transport.", []string{"transport"}, nil)
	descMessagesOut = prometheus.NewDesc("fawkes_messages_sent_total",
		"Messages sent to clients, by transport.", []string{"transport"}, nil)
	descErrors = prometheus.NewDesc("fawkes_errors_total",
		"Client errors by reason: connections refused or closed for bad input, stale messages dropped, messages the events channel rejected.", []string{"reason"}, nil)
	descOutbox = prometheus.NewDesc("fawkes_outbox_bytes",
		"Bytes queued for WebSocket clients, not yet written.", nil, nil)
)

var transports = server.Transports()

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descClosed, descMessagesIn, descMessagesOut, descErrors, descOutbox} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.ep.Stats()
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descConnections, st.Connections(), string(server.TransportWebSocket))
	gauge(descConnections, st.LongPollSessions(), string(server.TransportLongPoll))
	for _, r := range server.CloseReasons() {
		counter(descClosed, st.ClosedFor(r), r.String())
	}
	for _, t := range transports {
		in, out := st.Messages(t)
		counter(descMessagesIn, in, string(t))
		counter(descMessagesOut, out, string(t))
	}
	counter(descErrors, st.Refused(), "connect_refused")
	counter(descErrors, st.Malformed(), server.CloseMalformed.String())
	counter(descErrors, st.TooBig(), server.CloseTooBig.String())
	counter(descErrors, st.StaleDrops(), "stale_join_ref")
	for i, r := range rejectReasons {
		counter(descErrors, c.m.rejected[i].Load(), r)
	}
	gauge(descOutbox, c.ep.OutboxBytes())
}
