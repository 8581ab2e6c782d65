package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// The files of deploy/ a Go test can read without a YAML parser: the
// systemd unit, the example TOML file and the Containerfile. Their
// settings must be ones the binary accepts. (js-client-tests/test/
// deploy.test.js checks the YAML manifests.)

// unitFile reads a systemd unit into key -> values (keys may repeat).
func unitFile(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not key=value: %q", path, line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

func TestDeploySystemdUnitStartsWithValidSettings(t *testing.T) {
	unit := unitFile(t, "../../deploy/fawkes.service")
	if len(unit["ExecStart"]) != 1 {
		t.Fatalf("ExecStart: %q", unit["ExecStart"])
	}
	args := strings.Fields(unit["ExecStart"][0])
	if args[0] != "/usr/local/bin/fawkes" {
		t.Errorf("ExecStart runs %s", args[0])
	}
	for i, a := range args {
		if a == "/etc/fawkes/fawkes.toml" {
			args[i] = "../../deploy/fawkes.toml" // the example the unit's comment installs there
		}
	}
	environment := map[string]string{}
	for _, e := range unit["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		environment[k] = v
	}
	cfg, err := parseConfig(args[1:], env(environment), &bytes.Buffer{})
	if err != nil {
		t.Fatalf("the unit's settings: %v", err)
	}
	if cfg.LogFormat != "json" || cfg.ConfigFile == "" {
		t.Errorf("log-format %q, config %q", cfg.LogFormat, cfg.ConfigFile)
	}
	stop, err := time.ParseDuration(unit["TimeoutStopSec"][0])
	if err != nil || stop <= cfg.ShutdownGrace {
		t.Errorf("TimeoutStopSec=%s must exceed shutdown-grace %v, or systemd kills the drain", unit["TimeoutStopSec"], cfg.ShutdownGrace)
	}
	for k, want := range map[string]string{"KillSignal": "SIGTERM", "RestartPreventExitStatus": "2", "Type": "exec", "DynamicUser": "yes"} {
		if got := unit[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %s", k, got, want)
		}
	}
}

func TestDeployExampleConfigIsValid(t *testing.T) {
	cfg, err := parseConfig([]string{"--config", "../../deploy/fawkes.toml"}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsAddr == "" || !isLoopbackAddr(cfg.MetricsAddr) || cfg.Console != consoleAuto {
		t.Errorf("the example keeps /metrics and the console off the public port: metrics-addr %q, console %q", cfg.MetricsAddr, cfg.Console)
	}
}

func TestDeployContainerfile(t *testing.T) {
	b, err := os.ReadFile("../../deploy/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' || line[0] == ' ' {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		got[k] = v
	}
	for k, want := range map[string]string{"FROM": "scratch", "USER": "65534:65534", "ENTRYPOINT": `["/fawkes"]`, "EXPOSE": "4000", "COPY": "fawkes /fawkes"} {
		if got[k] != want {
			t.Errorf("%s %q, want %q", k, got[k], want)
		}
	}
	var args []string
	if err := json.Unmarshal([]byte(got["CMD"]), &args); err != nil {
		t.Fatalf("CMD %s: %v", got["CMD"], err)
	}
	cfg, err := parseConfig(args, env(nil), &bytes.Buffer{})
	if err != nil || cfg.LogFormat != "json" {
		t.Errorf("CMD %v: %v (log-format %q)", args, err, cfg.LogFormat)
	}
}
