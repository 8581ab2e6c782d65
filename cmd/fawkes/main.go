// Command fawkes is a Phoenix Channels server: phoenix.js clients connect to
// it as to an Elixir Phoenix endpoint. Run it with --help for every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/conformance"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/presence/presenceredis"
	"github.com/fawkes-rt/fawkes/server"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case errors.Is(err, errVersion):
		fmt.Println(versionLine()) // version.go
		return
	case err != nil:
		// One line per invalid setting (configerr.go).
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(os.Stderr, "fawkes:", line)
		}
		os.Exit(2)
	}
	log := newLogger(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("fawkes stopped")
		os.Exit(1)
	}
}

func newLogger(cfg *config) zerolog.Logger {
	level, _ := zerolog.ParseLevel(cfg.LogLevel)
	var w = zerolog.New(os.Stderr)
	if cfg.LogFormat == "console" || cfg.LogFormat == "auto" && fileIsTerminal(os.Stderr) {
		// Colours only on a terminal: never escape codes in a file or a pipe.
		noColor := !fileIsTerminal(os.Stderr) || os.Getenv("NO_COLOR") != ""
		w = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.RFC3339, NoColor: noColor})
	}
	return w.Level(level).With().Timestamp().Logger()
}

// run serves until ctx ends, then drains.
func run(ctx context.Context, cfg *config, log zerolog.Logger) error {
	m := newMetrics() // metrics.go
	if cfg.MemoryTrim {
		go newMemTrimmer(log).Run(ctx) // memtrim.go
	}
	cl, err := newPubSub(ctx, cfg, log, m.published) // cluster.go
	if err != nil {
		return err
	}
	defer cl.release()
	ps := cl.ps
	router := channels.NewRouter()
	heartbeat := cfg.HeartbeatInterval
	if heartbeat == 0 {
		heartbeat = events.HeartbeatOff
	}
	connect, err := connectPolicy(cfg, os.Getenv)
	if err != nil {
		return err
	}
	authorize, err := joinPolicy(cfg.JoinPolicy)
	if err != nil {
		return err
	}
	var members *presence.Presence // --presence
	if cfg.Presence {
		members = presence.New(ps)
		if cl.redis != nil { // every node's members in every list (channels/presence/presenceredis)
			shared := presenceredis.Attach(members, cl.redis, presenceredis.Config{Logger: &log})
			defer shared.Close() // before cl.release closes the PubSub: this node's members leave
		}
	}
	history, err := newHistory(cfg, cl) // history.go
	if err != nil {
		return err
	}
	eventsSvc := events.New(events.Config{
		History:           history,
		Authorize:         authorize,
		HeartbeatInterval: heartbeat,
		MaxEventBytes:     int(cfg.MaxEventBytes),
		MaxPatterns:       cfg.MaxPatterns,
		PubSub:            ps,
		Presence:          members,
		Rejected:          m.rejectedMessage,
		Logger:            &log,
	})
	router.Handle(events.TopicPrefix+"*", eventsSvc.Factory())
	go eventsSvc.Run(ctx)
	if cfg.ConformanceChannels {
		router.Handle("conformance:*", conformance.New)
	}
	var checkOrigin func(string) bool
	if cfg.CheckOrigin != "off" {
		if checkOrigin, err = server.AllowOrigins(strings.Split(cfg.CheckOrigin, ",")); err != nil {
			return fmt.Errorf("--check-origin: %w", err)
		}
	}
	endpoint := server.New(server.Config{
		Router:          router,
		PubSub:          ps,
		Connect:         connect,
		CheckOrigin:     checkOrigin,
		IdleTimeout:     cfg.IdleTimeout,
		MaxMessageBytes: int64(cfg.MaxMessageBytes),
		OutboxBytes:     int(cfg.OutboxBytes),
		MaxChannels:     cfg.MaxChannels,
		LongPollWindow:  cfg.LongPollWindow,
		LongPollKey:     longPollKey(os.Getenv(secretKeyBaseEnv)),
		Logger:          &log,
		Hooks:           m.hooks(),
	})
	mux := http.NewServeMux()
	mux.Handle(strings.TrimSuffix(cfg.SocketPath, "/")+"/", endpoint)
	// /metrics, /healthz, /readyz, POST /events/{room}; drain (ops.go).
	m.observeEndpoint(endpoint)
	if cl.redis != nil {
		m.observeRedis(cl.redis, endpoint)
		m.observePhoenix(cl.ps) // metrics_phoenix.go: --pubsub phoenix-redis
	}
	exposed, err := newExposure(cfg, os.Getenv) // exposure.go: who may publish; protections off on a public address
	if err != nil {
		return err
	}
	exposed.logWarnings(log, cfg.Addr)
	o := &ops{cfg: cfg, log: log, endpoint: endpoint, pubsub: ps, metrics: m, exposure: exposed}
	o.mount(mux, eventsSvc, os.Getenv(ingressTokenEnv))
	cons := &console{cfg: cfg, exposure: exposed, connect: connect, endpoint: endpoint, events: eventsSvc, redis: cl.redis, started: time.Now()}
	cons.mount(mux) // console.go: the operator console at /, as --console says
	metricsAddr := ""
	if cfg.MetricsAddr != "" {
		bound, stopMetrics, err := serveAside("metrics", cfg.MetricsAddr, o.metricsMux(), log) // ops.go
		if err != nil {
			return err
		}
		defer stopMetrics()
		metricsAddr = bound
	}
	if cfg.Pprof != "" {
		_, stopPprof, err := startPprof(cfg.Pprof, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	// No TCP keep-alive probes: WebSockets have heartbeats and the idle
	// timeout, HTTP has IdleTimeout below, and each accepted connection is
	// spared the setsockopt calls (~3% of the server's CPU per connect).
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	const readHeaderTimeout = 10 * time.Second
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: 2 * time.Minute, ConnState: o.fresh.track}
	logListening(log, cfg, ln.Addr().String(), exposed.public, metricsAddr) // version.go
	// WebSocket upgrades are answered without net/http (server.UpgradeListener);
	// every other request goes to srv as before.
	upgrades := endpoint.UpgradeListener(ln, strings.TrimSuffix(cfg.SocketPath, "/")+"/websocket", readHeaderTimeout)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(upgrades) }()
	o.listening.Store(true)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	return o.shutdown(srv)
}
