package main

import (
	"io"
	"testing"
)

func TestPresenceIsOffByDefault(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{nil, nil, false},
		{[]string{"--presence"}, nil, true},
		{nil, map[string]string{"FAWKES_PRESENCE": "true"}, true},
		{[]string{"--presence=false"}, map[string]string{"FAWKES_PRESENCE": "true"}, false}, // the flag wins
	} {
		cfg, err := parseConfig(tc.args, env(tc.env), io.Discard)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if cfg.Presence != tc.want {
			t.Errorf("%v %v: presence %v, want %v", tc.args, tc.env, cfg.Presence, tc.want)
		}
	}
}
