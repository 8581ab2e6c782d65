package main

import (
	"fmt"
	"net"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// version is the release, stamped at build time by make build:
//
//	go build -ldflags "-X main.version=$(git describe --tags --always --dirty)" ./cmd/fawkes
//
// Left empty (go build, go run), buildVersion falls back to what the Go
// toolchain records: the module version, else the VCS revision.
var version string

// buildVersion returns the version of this binary: the stamped one, else
// the module's, else "devel+<revision>" from the VCS stamp, else "devel".
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel+" + rev
}

// versionLine is what fawkes --version prints.
func versionLine() string {
	return fmt.Sprintf("fawkes %s (%s %s/%s)", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// logListening writes the start-up line, what an operator checks first:
// the version, where it listens, the console's URL, and the settings that
// decide who may do what.
func logListening(log zerolog.Logger, cfg *config, bound string, public bool, metricsAddr string) {
	consoleURL := "off"
	if consoleServed(cfg.Console, public) {
		consoleURL = "http://" + browsableAddr(bound) + "/"
	}
	metrics := "http://" + browsableAddr(bound) + "/metrics"
	if metricsAddr != "" {
		metrics = "http://" + browsableAddr(metricsAddr) + "/metrics"
	}
	configFile := cfg.ConfigFile
	if configFile == "" {
		configFile = "none"
	}
	log.Info().Str("version", buildVersion()).Str("addr", bound).Str("socket_path", cfg.SocketPath).
		Str("console", consoleURL).Str("metrics", metrics).Str("pubsub", cfg.PubSub).Str("auth", cfg.Auth).
		Bool("presence", cfg.Presence).Str("config", configFile).Msg("fawkes listening")
}

// browsableAddr turns a bound address into one a browser on the same host
// can open: an unspecified host (every interface) becomes localhost.
func browsableAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// buildInfo is the fawkes_build_info gauge: always 1, its labels say which
// build runs (join it to other series to see versions across a cluster).
func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fawkes_build_info",
		Help: "Always 1; the labels name the running build: version (as fawkes --version prints it) and goversion.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(buildVersion(), runtime.Version()).Set(1)
	return g
}
