package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":4000" || cfg.SocketPath != "/socket" || cfg.IdleTimeout != 60*time.Second ||
		cfg.MaxMessageBytes != 1<<20 || cfg.OutboxBytes != 1<<20 || cfg.MaxChannels != 100 ||
		cfg.CheckOrigin != "off" || cfg.HeartbeatInterval != 30*time.Second || cfg.MaxEventBytes != 256<<10 ||
		cfg.MaxPatterns != 64 || cfg.LongPollWindow != 10*time.Second || cfg.Auth != "none" || cfg.TokenSalt != "user socket" || cfg.JoinPolicy != "open" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestConfigEnvironmentAndFlags(t *testing.T) {
	cfg, err := parseConfig([]string{"--max-channels", "7"}, env(map[string]string{
		"FAWKES_IDLE_TIMEOUT":      "5s",
		"FAWKES_MAX_CHANNELS":      "9", // the flag wins
		"FAWKES_MAX_MESSAGE_BYTES": "64KiB",
		"FAWKES_CHECK_ORIGIN":      "//*.example.com",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IdleTimeout != 5*time.Second || cfg.MaxChannels != 7 || cfg.MaxMessageBytes != 64<<10 || cfg.CheckOrigin != "//*.example.com" {
		t.Fatalf("got %+v", cfg)
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--idle-timeout", "0s"}, nil, "--idle-timeout"},
		{nil, map[string]string{"FAWKES_MAX_CHANNELS": "lots"}, "FAWKES_MAX_CHANNELS"},
		{[]string{"--max-message-bytes", "3 parsecs"}, nil, "max-message-bytes"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--auth", "magic"}, nil, "--auth"},
		{[]string{"--join-policy", "token-rooms"}, nil, "--join-policy"},
		{[]string{"--token-max-age", "forever"}, nil, "token-max-age"},
		{[]string{"--heartbeat-interval", "-1s"}, nil, "--heartbeat-interval"},
	} {
		_, err := parseConfig(tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: got %v, want an error naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "1MiB": 1 << 20, "256KiB": 256 << 10, "2GiB": 2 << 30, "10KB": 10000} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q: got %d, %v; want %d", in, b, err, want)
		}
	}
	if b := byteSize(1 << 20); b.String() != "1MiB" {
		t.Errorf("String() = %q", b.String())
	}
}
