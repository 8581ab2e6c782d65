package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is every setting of the binary. Each is a flag and a FAWKES_*
// environment variable (flag --idle-timeout is FAWKES_IDLE_TIMEOUT); a flag
// given on the command line wins over the environment.
type config struct {
	Addr                string
	SocketPath          string
	IdleTimeout         time.Duration
	MaxMessageBytes     byteSize
	OutboxBytes         byteSize
	MaxChannels         int
	CheckOrigin         string
	LogLevel            string
	LogFormat           string
	ConformanceChannels bool
	HeartbeatInterval   time.Duration
	MaxEventBytes       byteSize
	MaxPatterns         int
	Auth                string
	TokenSalt           string
	TokenMaxAge         tokenMaxAge
	JoinPolicy          string
	Presence            bool
	LongPollWindow      time.Duration
	PubSub              string
	RedisURL            string
	RedisPrefix         string
	RedisStart          string
	NodeDownAfter       time.Duration
	PhoenixPubSub       string // phoenixredis.go
	NodeName            string // phoenixredis.go
	ConfigFile          string
	IngressMaxBytes     byteSize
	ShutdownGrace       time.Duration
	Pprof               string
	Ingress             ingressMode // exposure.go
	MetricsAddr         string      // ops.go
	Console             consoleMode // console.go
	// history.go
	HistorySize int
	HistoryTTL  time.Duration
	MemoryTrim  bool // memtrim.go
}

// newFlagSet declares every flag on a FlagSet bound to cfg.
func newFlagSet(cfg *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fawkes", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.Addr, "addr", ":4000", "listen address")
	fs.StringVar(&cfg.SocketPath, "socket-path", "/socket", "mount path of the Phoenix socket (serves {path}/websocket)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 60*time.Second, "close a WebSocket after this long without an inbound frame")
	cfg.MaxMessageBytes = 1 << 20
	fs.Var(&cfg.MaxMessageBytes, "max-message-bytes", "largest inbound message, all fragments together (e.g. 1MiB, 65536); larger ones close with 1009")
	cfg.OutboxBytes = 1 << 20
	fs.Var(&cfg.OutboxBytes, "outbox-bytes", "bytes queued for one client before it is closed as too slow")
	fs.IntVar(&cfg.MaxChannels, "max-channels", 100, "channels one connection may join")
	fs.StringVar(&cfg.CheckOrigin, "check-origin", "off", `"off" (allow every Origin; the development default), or a comma list such as //*.example.com,https://app.example`)
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", "auto", "console, json, or auto (console on a terminal, JSON otherwise)")
	fs.BoolVar(&cfg.MemoryTrim, "memory-trim", true, "give unused memory back to the OS when the process goes quiet (after a burst of connections, say); false leaves it to Go's collector and scavenger")
	fs.BoolVar(&cfg.ConformanceChannels, "conformance-channels", false, `mount the protocol conformance channel on "conformance:*" (for testing clients)`)
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 30*time.Second, `events channel: period of the "heartbeat" broadcast to every room with members (0 = off)`)
	cfg.MaxEventBytes = 256 << 10
	fs.Var(&cfg.MaxEventBytes, "max-event-bytes", "events channel: largest CloudEvent accepted")
	fs.IntVar(&cfg.MaxPatterns, "max-patterns", 64, "events channel: event type patterns one channel may subscribe")
	fs.StringVar(&cfg.Auth, "auth", "none", `connect policy: "none" (anonymous), or "phoenix-token" (a Phoenix.Token in the authToken or the "token" param, verified with `+secretKeyBaseEnv+`; its data becomes the socket id)`)
	fs.StringVar(&cfg.TokenSalt, "token-salt", "user socket", "salt of the Phoenix.Token (the app's Phoenix.Token.sign salt)")
	cfg.TokenMaxAge = tokenMaxAge(24 * time.Hour)
	fs.Var(&cfg.TokenMaxAge, "token-max-age", `max age of a Phoenix.Token: a duration, "infinity", or 0 for the age embedded in the token`)
	fs.StringVar(&cfg.JoinPolicy, "join-policy", "open", `events channel joins: "open", or "token-rooms" (only rooms listed under "rooms" in the token's data)`)
	fs.BoolVar(&cfg.Presence, "presence", false, `events channel: track members (key: socket id, else the "user_id" param, else random) and push presence_state/presence_diff for phoenix.js Presence`)
	fs.DurationVar(&cfg.LongPollWindow, "longpoll-window", 10*time.Second, "how long a LongPoll GET waits for messages; a session ends 1.5 windows after its last GET")
	fs.StringVar(&cfg.PubSub, "pubsub", "memory", `how nodes share topics: "memory" (this process only), "redis" (every node on the same --redis-url and --redis-prefix; needs `+secretKeyBaseEnv+`), or "phoenix-redis" (redis, and the Elixir Phoenix nodes of --phoenix-pubsub on the same Redis)`)
	fs.StringVar(&cfg.RedisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis server for --pubsub redis (redis:// or rediss:// URL)")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", "fawkes", "prefix of every Redis channel and key of one cluster (clusters sharing a Redis need different prefixes)")
	fs.StringVar(&cfg.RedisStart, "redis-start", "retry", `with Redis unreachable at start: "retry" (serve this node's clients, /readyz 503, keep trying) or "require" (exit 1 after 10 s)`)
	fs.DurationVar(&cfg.NodeDownAfter, "node-down-after", 15*time.Second, "--pubsub redis: a node silent this long is taken for dead; its presences leave every list")
	fs.StringVar(&cfg.PhoenixPubSub, "phoenix-pubsub", "", "--pubsub phoenix-redis: the Elixir app's PubSub name, such as MyApp.PubSub (its Phoenix.PubSub.Redis channel is phx:Elixir.MyApp.PubSub.Adapter)")
	fs.StringVar(&cfg.NodeName, "node-name", "", "--pubsub phoenix-redis: this node's name among the Phoenix nodes, unique in the cluster, such as fawkes-1 or fawkes1@host (letters, digits, _ - . @; at most 128)")
	// Operations (ops.go, ingress.go, configfile.go).
	fs.StringVar(&cfg.ConfigFile, configFlag, "", "TOML file of settings keyed by flag name (flags and FAWKES_* variables win over it)")
	cfg.IngressMaxBytes = 1 << 20
	fs.Var(&cfg.IngressMaxBytes, "ingress-max-bytes", "largest request body of POST /events/{room}; larger ones get 413")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 30*time.Second, "on SIGTERM or SIGINT: time to drain connections (close 1012, in batches) and finish in-flight requests before exiting")
	fs.StringVar(&cfg.Pprof, "pprof", "", "address of a separate listener serving net/http/pprof, e.g. 127.0.0.1:6060 (empty: off)")
	fs.Var(&cfg.Ingress, "ingress", ingressUsage) // exposure.go
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "address of a separate listener for GET /metrics, e.g. 127.0.0.1:9090; then /metrics is not served on --addr (empty: /metrics on --addr)")
	fs.Var(&cfg.Console, "console", consoleUsage) // console.go
	historyFlags(fs, cfg)                         // history.go
	fs.Usage = func() { printUsage(fs, out) }
	return fs
}

// parseConfig reads flags, then fills every flag not given on the command
// line from its environment variable, then from the --config file.
// Errors name the setting.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	cfg := &config{}
	fs := newFlagSet(cfg, out)
	if err := parseArgs(fs, args); err != nil { // configerr.go
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
		}
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		if v := getenv(env); v != "" && !given[f.Name] {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, invalidSetting(fs, f, fmt.Sprintf("%s=%q", env, v), err, false))
			}
			given[f.Name] = true
		}
	})
	if cfg.ConfigFile != "" {
		if err := applyConfigFile(fs, cfg.ConfigFile, func(name string) bool { return given[name] }); err != nil {
			errs = append(errs, err)
		}
	}
	if err := cfg.validate(); err != nil {
		errs = append(errs, err)
	}
	if (cfg.PubSub == "redis" || cfg.PubSub == "phoenix-redis") && getenv(secretKeyBaseEnv) == "" {
		errs = append(errs, fmt.Errorf("--pubsub %s needs %s: every node signs and verifies LongPoll session tokens with it (use the Phoenix app's secret_key_base, or any 64 random characters, the same on every node)", cfg.PubSub, secretKeyBaseEnv))
	}
	errs = append(errs, checkDependentSettings(cfg, getenv)) // configerr.go
	return cfg, errors.Join(errs...)
}

func envName(flagName string) string {
	return "FAWKES_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (c *config) validate() error {
	var errs []error
	if c.IdleTimeout <= 0 {
		errs = append(errs, errors.New("--idle-timeout must be positive"))
	}
	if c.MaxMessageBytes <= 0 {
		errs = append(errs, errors.New("--max-message-bytes must be positive"))
	}
	if c.OutboxBytes <= 0 {
		errs = append(errs, errors.New("--outbox-bytes must be positive"))
	}
	if c.LongPollWindow <= 0 {
		errs = append(errs, errors.New("--longpoll-window must be positive"))
	}
	if c.MaxChannels <= 0 {
		errs = append(errs, errors.New("--max-channels must be positive"))
	}
	if c.HeartbeatInterval < 0 {
		errs = append(errs, errors.New("--heartbeat-interval must be 0 (off) or positive"))
	}
	if c.MaxEventBytes <= 0 {
		errs = append(errs, errors.New("--max-event-bytes must be positive"))
	}
	if c.MaxPatterns <= 0 {
		errs = append(errs, errors.New("--max-patterns must be positive"))
	}
	if !strings.HasPrefix(c.SocketPath, "/") {
		errs = append(errs, errors.New("--socket-path must start with /"))
	}
	switch strings.TrimSuffix(c.SocketPath, "/") {
	case "/events", "/metrics", "/healthz", "/readyz":
		errs = append(errs, fmt.Errorf("--socket-path %s is taken by an operations endpoint", c.SocketPath))
	}
	switch c.Auth {
	case "none", "phoenix-token":
	default:
		errs = append(errs, fmt.Errorf("--auth %q: want none or phoenix-token", c.Auth))
	}
	switch c.JoinPolicy {
	case "open", "token-rooms":
	default:
		errs = append(errs, fmt.Errorf("--join-policy %q: want open or token-rooms", c.JoinPolicy))
	}
	if c.JoinPolicy == "token-rooms" && c.Auth != "phoenix-token" {
		errs = append(errs, errors.New("--join-policy token-rooms needs --auth phoenix-token"))
	}
	switch c.PubSub {
	case "memory", "redis", "phoenix-redis":
	default:
		errs = append(errs, fmt.Errorf("--pubsub %q: want memory, redis or phoenix-redis", c.PubSub))
	}
	errs = append(errs, c.validatePhoenix()) // phoenixredis.go
	errs = append(errs, c.validateHistory()) // history.go
	switch c.RedisStart {
	case "retry", "require":
	default:
		errs = append(errs, fmt.Errorf("--redis-start %q: want retry or require", c.RedisStart))
	}
	if c.NodeDownAfter < 300*time.Millisecond {
		errs = append(errs, errors.New("--node-down-after must be at least 300ms"))
	}
	if c.RedisPrefix == "" || strings.ContainsAny(c.RedisPrefix, " *?[]") {
		errs = append(errs, fmt.Errorf("--redis-prefix %q: want a non-empty name without spaces or glob characters", c.RedisPrefix))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.IngressMaxBytes <= 0 {
		errs = append(errs, errors.New("--ingress-max-bytes must be positive"))
	}
	if c.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("--shutdown-grace must be positive"))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-addr %q: want host:port such as 127.0.0.1:9090", c.MetricsAddr))
		}
	}
	if c.Pprof != "" {
		if _, _, err := net.SplitHostPort(c.Pprof); err != nil {
			errs = append(errs, fmt.Errorf("--pprof %q: want host:port: %v", c.Pprof, err))
		}
	}
	switch c.LogFormat {
	case "auto", "console", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format %q: want auto, console or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// byteSize is a flag value in bytes that accepts KiB/MiB/GiB suffixes.
type byteSize int64

var byteUnits = map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1000, "MB": 1000 * 1000}

func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []string{"GiB", "MiB", "KiB"} {
		if m := byteUnits[u]; n >= m && n%m == 0 {
			return strconv.FormatInt(n/m, 10) + u
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	m, ok := byteUnits[unit]
	if !ok {
		return fmt.Errorf("unknown unit %q (use B, KiB, MiB, GiB)", unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return fmt.Errorf("not a size: %q", s)
	}
	*b = byteSize(n * m)
	return nil
}

func fileIsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
