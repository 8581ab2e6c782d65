package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// configFlag is the flag naming the configuration file; it cannot be set
// from the file itself.
const configFlag = "config"

// applyConfigFile sets, from the TOML file path, every flag that neither the
// command line (given) nor the environment set: flag > environment > file >
// default.
//
// The file is TOML (github.com/BurntSushi/toml: no dependencies of its own,
// a strict TOML 1.0 parser that reports the line of a syntax error). Its
// keys are the flag names, kebab-case, at the top level:
//
//	addr = ":4000"
//	idle-timeout = "60s"
//	max-channels = 100
//	outbox-bytes = "1MiB"
//	check-origin = ["//*.example.com", "https://app.example"]
//	presence = true
//
// Strings, integers and booleans are given to the flag as their text, so a
// value is checked exactly as on the command line; an array of strings is
// joined with commas (for list settings such as check-origin). An unknown
// key, a table or another type is an error naming the key.
func applyConfigFile(fs *flag.FlagSet, path string, skip func(name string) bool) error {
	var values map[string]any
	if _, err := toml.DecodeFile(path, &values); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	var errs []error
	for name, v := range values {
		f := fs.Lookup(name)
		if f == nil || name == configFlag {
			errs = append(errs, fmt.Errorf("config file %s: unknown setting %q", path, name))
			continue
		}
		text, err := settingText(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %s: %v", path, name, err))
			continue
		}
		if skip(name) {
			continue
		}
		if err := fs.Set(name, text); err != nil {
			errs = append(errs, invalidSetting(fs, f, fmt.Sprintf("config file %s: %s = %s", path, name, tomlText(v)), err, true))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// tomlText spells a value as the file did, near enough for a message.
func tomlText(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// settingText turns a TOML value into the text a flag parses.
func settingText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return "", fmt.Errorf("a list must hold strings, not %T", e)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("must be a value, not a table")
	}
	return "", fmt.Errorf("unsupported value %v (%T): use a string, an integer or a boolean", v, v)
}

// printUsage documents every setting, its environment variable and its
// default (flag.PrintDefaults leaves out zero defaults such as off
// switches).
func printUsage(fs *flag.FlagSet, out io.Writer) {
	fmt.Fprintf(out, `Usage: fawkes [flags]
       fawkes --version

Settings come from, in this order of precedence: the command line, FAWKES_*
environment variables (--idle-timeout is FAWKES_IDLE_TIMEOUT), a TOML file
given with --config (keys are the flag names: idle-timeout = "60s"), then
the defaults below. Invalid settings stop fawkes with exit code 2.

Environment only (secrets):
  %s
    	the Phoenix secret_key_base, for --auth phoenix-token
  %s
    	bearer token that POST /events/{room} accepts (unset: see --ingress)

Endpoints on --addr: {socket-path}/websocket, {socket-path}/longpoll,
POST /events/{room} (CloudEvents over HTTP), /metrics (Prometheus; on
--metrics-addr instead if set), /healthz (live), /readyz (ready), and, as
--console says, / (the operator console), /console/stats, /console/check.

Exit codes: 0 after a complete drain (SIGTERM, SIGINT), 1 when the drain
outlasts --shutdown-grace or the server cannot start, 2 for an invalid
setting.

Flags:
`, secretKeyBaseEnv, ingressTokenEnv)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		switch f.Value.(type) {
		case *byteSize:
			name = "size"
		case *tokenMaxAge:
			name = "age"
		}
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		def := f.DefValue
		switch {
		case def == "" || def == "false" && name == "":
			def = "off"
			if f.Name == configFlag {
				def = "none"
			}
		}
		fmt.Fprintf(out, "%s\n    \t%s\n    \t(default %s; env %s)\n", line, usage, def, envName(f.Name))
	})
}
