package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestInvalidSettingsAreOneLineWithTheAcceptedForm checks that a bad value
// from the command line, the environment or the TOML file gives exactly one
// line naming the setting and what it accepts.
func TestInvalidSettingsAreOneLineWithTheAcceptedForm(t *testing.T) {
	toml := func(text string) []string { return []string{"--config", writeFile(t, text)} }
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"--idle-timeout", "5"}, nil, []string{"--idle-timeout 5", "want a duration", "60s"}},
		{[]string{"--idle-timeout"}, nil, []string{"--idle-timeout needs a value", "60s"}},
		{[]string{"--idle-timeout", "--presence"}, nil, []string{"--idle-timeout needs a value"}},
		{[]string{"-idle-timeout=x"}, nil, []string{"--idle-timeout x", "want a duration"}},
		{[]string{"--presence=maybe"}, nil, []string{"--presence maybe", "true or false"}},
		{[]string{"--max-channels", "many"}, nil, []string{"--max-channels many", "whole number"}},
		{[]string{"--outbox-bytes", "1 parsec"}, nil, []string{`--outbox-bytes "1 parsec"`, "256KiB"}},
		{[]string{"--ingress", "sometimes"}, nil, []string{"--ingress sometimes", "auto, token or open"}},
		{[]string{"--no-such-flag"}, nil, []string{"unknown flag --no-such-flag", "--help"}},
		{[]string{"serve"}, nil, []string{`unexpected argument "serve"`}},
		{nil, map[string]string{"FAWKES_IDLE_TIMEOUT": "5"}, []string{`FAWKES_IDLE_TIMEOUT="5"`, "60s"}},
		{toml("idle-timeout = 60"), nil, []string{"idle-timeout = 60", `"60s"`}},
		{toml(`presence = "yes"`), nil, []string{`presence = "yes"`, "true or false"}},
		{[]string{"--check-origin", "example.com"}, nil, []string{"--check-origin example.com", "//*.example.com"}},
		{[]string{"--auth", "phoenix-token"}, nil, []string{"--auth phoenix-token needs FAWKES_SECRET_KEY_BASE"}},
		{[]string{"--ingress", "token"}, nil, []string{"--ingress token needs FAWKES_INGRESS_TOKEN"}},
		{[]string{"--pubsub", "redis", "--redis-url", "http://x"}, map[string]string{secretKeyBaseEnv: strings.Repeat("k", 64)}, []string{"--redis-url http://x", "redis://"}},
	} {
		_, err := parseConfig(tc.args, env(tc.env), &bytes.Buffer{})
		if err == nil {
			t.Errorf("%v %v: no error", tc.args, tc.env)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%v %v: more than one line:\n%s", tc.args, tc.env, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v %v: %q does not say %q", tc.args, tc.env, msg, w)
			}
		}
	}
}

// TestVersionAndHelpAreNotErrors checks --version and --help stop parsing
// without an error message.
func TestVersionAndHelpAreNotErrors(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseConfig([]string{"--version"}, env(nil), &out); !errors.Is(err, errVersion) || out.Len() != 0 {
		t.Errorf("--version: %v, printed %q", err, out.String())
	}
	for _, h := range []string{"-h", "--help", "-help"} {
		out.Reset()
		if _, err := parseConfig([]string{h}, env(nil), &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "Usage: fawkes") {
			t.Errorf("%s: %v, printed %q", h, err, out.String())
		}
	}
	if v := versionLine(); !strings.HasPrefix(v, "fawkes ") || !strings.Contains(v, "go1.") {
		t.Errorf("versionLine() = %q", v)
	}
}

// TestProcessBadSettingPrintsOneLineAndExitsTwo runs the binary: the
// message is one line on stderr, nothing else is printed, the exit code is 2.
func TestProcessBadSettingPrintsOneLineAndExitsTwo(t *testing.T) {
	bin := fawkesBinary(t)
	for _, args := range [][]string{
		{"--idle-timeout", "5"},
		{"--config", writeFile(t, "idle-timeout = 60\n")},
		{"--check-origin", "example.com"},
		{"--auth", "phoenix-token"},
	} {
		cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
		cmd.Env = append(os.Environ(), secretKeyBaseEnv+"=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit 2; stderr %q", args, err, stderr.String())
			continue
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "fawkes: "+args[0]) && !strings.HasPrefix(lines[0], "fawkes: config file") {
			t.Errorf("%v: stderr %q, want one line naming the setting", args, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: stdout %q", args, stdout.String())
		}
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "fawkes ") {
		t.Errorf("--version: %v %q", err, out)
	}
}

// TestREADMEAgreesWithTheFlags checks that README.md mentions every flag
// the binary has and no flag it lacks, and that each default in its
// settings tables is the flag's default.
func TestREADMEAgreesWithTheFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := newFlagSet(&config{}, &bytes.Buffer{})
	known := map[string]bool{"help": true, "version": true}
	fs.VisitAll(func(f *flag.Flag) { known[f.Name] = true })
	mentioned := map[string]bool{}
	for _, m := range regexp.MustCompile("`--([a-z][a-z0-9-]*)").FindAllSubmatch(readme, -1) {
		mentioned[string(m[1])] = true
	}
	for name := range mentioned {
		if !known[name] {
			t.Errorf("README.md mentions --%s, which fawkes does not have", name)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !mentioned[f.Name] {
			t.Errorf("README.md does not mention --%s", f.Name)
		}
	})
	// Table rows "| `--name` | `default` | ...".
	row := regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\| (`[^`]*`|off|none|unset) \\|")
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		f := fs.Lookup(m[1])
		if f == nil {
			continue
		}
		def := strings.Trim(m[2], "`")
		switch def {
		case "off", "none", "unset":
			if f.DefValue == "" || f.DefValue == "false" {
				continue
			}
		}
		probe := newFlagSet(&config{}, &bytes.Buffer{})
		if err := probe.Set(f.Name, def); err != nil || probe.Lookup(f.Name).Value.String() != f.DefValue {
			t.Errorf("README.md: --%s defaults to %s, the binary to %q", f.Name, m[2], f.DefValue)
		}
	}
}
