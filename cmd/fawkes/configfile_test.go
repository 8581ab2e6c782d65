package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fawkes.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigFilePrecedence(t *testing.T) {
	path := writeFile(t, `
# every kind of value
addr = "127.0.0.1:5000"
idle-timeout = "5s"
max-channels = 7
max-patterns = 9
outbox-bytes = "64KiB"
presence = true
check-origin = ["//*.example.com", "https://app.example"]
shutdown-grace = "3s"
`)
	cfg, err := parseConfig([]string{"--config", path, "--max-channels", "1"}, env(map[string]string{
		"FAWKES_MAX_CHANNELS": "2", // the flag wins over the environment
		"FAWKES_MAX_PATTERNS": "3", // the environment wins over the file
	}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxChannels != 1 || cfg.MaxPatterns != 3 {
		t.Errorf("flag or environment lost to the file: max-channels %d, max-patterns %d", cfg.MaxChannels, cfg.MaxPatterns)
	}
	if cfg.Addr != "127.0.0.1:5000" || cfg.IdleTimeout != 5*time.Second || cfg.OutboxBytes != 64<<10 || !cfg.Presence ||
		cfg.CheckOrigin != "//*.example.com,https://app.example" || cfg.ShutdownGrace != 3*time.Second {
		t.Errorf("file settings not applied: %+v", cfg)
	}
	if cfg.SocketPath != "/socket" || cfg.MaxEventBytes != 256<<10 {
		t.Errorf("defaults lost: %+v", cfg)
	}

	// FAWKES_CONFIG names the file too.
	cfg, err = parseConfig(nil, env(map[string]string{"FAWKES_CONFIG": path}), &bytes.Buffer{})
	if err != nil || cfg.MaxChannels != 7 {
		t.Fatalf("FAWKES_CONFIG: %v %+v", err, cfg)
	}
}

func TestConfigFileErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{`max-chanels = 7`, []string{`unknown setting "max-chanels"`}},
		{`config = "other.toml"`, []string{`unknown setting "config"`}},
		{`idle-timeout = "soon"`, []string{"idle-timeout", "soon"}},
		{`idle-timeout = "0s"`, []string{"--idle-timeout must be positive"}},
		{`max-channels = 1.5`, []string{"max-channels", "unsupported value"}},
		{"[server]\naddr = \":1\"", []string{`unknown setting "server"`}},
		{"[addr]\nport = 1", []string{"addr", "not a table"}},
		{`check-origin = [1, 2]`, []string{"check-origin", "strings"}},
		{"addr = ", []string{"fawkes.toml", "line 1"}},
		{"log-level = \"loud\"\nmax-patterns = \"many\"", []string{"--log-level", "max-patterns"}},
	} {
		path := writeFile(t, tc.text)
		_, err := parseConfig([]string{"--config", path}, env(nil), &bytes.Buffer{})
		if err == nil {
			t.Errorf("%q: no error", tc.text)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", tc.text, err, w)
			}
		}
	}
	_, err := parseConfig([]string{"--config", filepath.Join(t.TempDir(), "missing.toml")}, env(nil), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestHelpDocumentsEverySettingAndItsDefault(t *testing.T) {
	var out bytes.Buffer
	_, err := parseConfig([]string{"--help"}, env(nil), &out)
	if err != flag.ErrHelp {
		t.Fatalf("--help: %v", err)
	}
	help := out.String()
	fs := newFlagSet(&config{}, &bytes.Buffer{})
	fs.VisitAll(func(f *flag.Flag) {
		i := strings.Index(help, "  --"+f.Name+" ")
		if i < 0 {
			i = strings.Index(help, "  --"+f.Name+"\n")
		}
		if i < 0 {
			t.Errorf("--help does not document --%s", f.Name)
			return
		}
		entry := help[i:]
		if j := strings.Index(entry[4:], "\n  --"); j >= 0 {
			entry = entry[:j+4]
		}
		if !strings.Contains(entry, "(default ") || !strings.Contains(entry, envName(f.Name)) {
			t.Errorf("--%s: no default or environment variable in %q", f.Name, entry)
		}
	})
	for _, s := range []string{secretKeyBaseEnv, ingressTokenEnv, "--config", "TOML", "/metrics", "/readyz"} {
		if !strings.Contains(help, s) {
			t.Errorf("--help does not mention %s", s)
		}
	}
}

func TestOperationsSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--shutdown-grace", "0s"}, "--shutdown-grace"},
		{[]string{"--ingress-max-bytes", "0"}, "--ingress-max-bytes"},
		{[]string{"--pprof", "6060"}, "--pprof"},
		{[]string{"--socket-path", "/events"}, "--socket-path"},
	} {
		_, err := parseConfig(tc.args, env(nil), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
	cfg := defaultConfig(t)
	if cfg.ShutdownGrace != 30*time.Second || cfg.IngressMaxBytes != 1<<20 || cfg.Pprof != "" || cfg.ConfigFile != "" {
		t.Errorf("defaults: %+v", cfg)
	}
}
