package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/ingress"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
)

// ingressTokenEnv holds the bearer token of the HTTP ingress. It is an
// environment variable only: a flag would show in the process list.
const ingressTokenEnv = "FAWKES_INGRESS_TOKEN"

// readyTimeout bounds the pub/sub ping of one readiness check.
const readyTimeout = 2 * time.Second

// ops is the operational side of the binary: metrics, health, readiness,
// the HTTP ingress and the drain on SIGTERM.
type ops struct {
	cfg      *config
	log      zerolog.Logger
	endpoint *server.Endpoint
	pubsub   pubsub.PubSub
	metrics  *metrics
	// exposure says who may publish through the ingress (exposure.go);
	// nil, as in-process tests wire ops, means the ingress token if one is
	// given, else anyone.
	exposure *exposure

	listening atomic.Bool
	draining  atomic.Bool
	fresh     newConns // HTTP connections without a request yet (newconns.go)
}

// mount adds /metrics, /healthz, /readyz and POST /events/{room} to mux.
func (o *ops) mount(mux *http.ServeMux, svc *events.Service, ingressToken string) {
	if o.cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", o.metrics.handler())
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", o.readyz)
	inCfg := ingress.Config{
		Events:       svc,
		History:      svc, // GET /events/{room}: 404 history_off with --history-size 0
		Token:        ingressToken,
		Anonymous:    ingressToken == "",
		MaxBodyBytes: int64(o.cfg.IngressMaxBytes),
		Logger:       &o.log,
	}
	if o.exposure != nil {
		o.exposure.ingress.apply(&inCfg)
	}
	in := ingress.New(inCfg)
	mux.Handle("/events/{room}", o.instrumentIngress(in))
}

// ready returns why the node should not get new traffic, or nil.
func (o *ops) ready(ctx context.Context) error {
	switch {
	case !o.listening.Load():
		return errors.New("not listening yet")
	case o.draining.Load() || o.endpoint.Draining():
		return errors.New("draining")
	}
	if p, ok := o.pubsub.(pubsub.Pinger); ok {
		ctx, cancel := context.WithTimeout(ctx, readyTimeout)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("pub/sub unreachable: %w", err)
		}
	}
	return nil
}

// readyz answers 200 "ready", or 503 with the reason.
func (o *ops) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := o.ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// instrumentIngress counts ingress answers by status, and refuses new
// requests with 503 once draining (those in flight finish).
func (o *ops) instrumentIngress(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.draining.Load() {
			o.metrics.ingressAnswered(http.StatusServiceUnavailable)
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"reason":"unavailable","message":"the server is shutting down"}` + "\n"))
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		o.metrics.ingressAnswered(sw.code())
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// shutdown drains within --shutdown-grace: readiness turns 503 and new
// ingress requests are refused; the endpoint closes every connection with
// 1012 (DrainBatch at a time), while the listener stays open so that load
// balancers see the 503; then the HTTP server stops listening and waits
// for the requests in flight (ingress posts, LongPoll polls). Past the
// grace period every connection is cut and shutdown returns an error.
func (o *ops) shutdown(srv *http.Server) error {
	o.draining.Store(true)
	start := time.Now()
	closedBefore := o.endpoint.Stats().ClosedFor(server.CloseShutdown)
	o.log.Info().Int("connections", o.endpoint.Connections()).Dur("grace_ms", o.cfg.ShutdownGrace).Msg("shutting down: draining connections")
	ctx, cancel := context.WithTimeout(context.Background(), o.cfg.ShutdownGrace)
	defer cancel()
	err := o.endpoint.Shutdown(ctx)
	if err == nil {
		done := make(chan error, 1)
		go func() { done <- srv.Shutdown(ctx) }()
		// Shutdown has closed the listener once it runs; then no connection
		// without a request will get one served.
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			select {
			case err = <-done:
				break wait
			case <-tick.C:
				o.fresh.closeAll()
			}
		}
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("drain not finished within --shutdown-grace %s (%d connections left): %w", o.cfg.ShutdownGrace, o.endpoint.Connections(), err)
	}
	// The summary of the drain: one line, however many clients (each
	// close is a debug line of its own).
	o.log.Info().Int64("clients_closed", o.endpoint.Stats().ClosedFor(server.CloseShutdown)-closedBefore).
		Dur("took_ms", time.Since(start)).Msg("drained; stopped")
	return nil
}

// metricsMux serves GET /metrics alone, for --metrics-addr.
func (o *ops) metricsMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics.handler())
	return mux
}

// startPprof serves net/http/pprof on its own listener at addr, so that
// profiling is never exposed on the public address by accident. It returns
// the address it listens on and a function that stops it.
func startPprof(addr string, log zerolog.Logger) (bound string, stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return serveAside("pprof", addr, mux, log)
}

// serveAside serves h on a listener of its own at addr, the value of the
// flag name (pprof, metrics). It returns the address it listens on and a
// function that stops it.
func serveAside(name, addr string, h http.Handler, log zerolog.Logger) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--%s: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Msg(name + " listening")
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
