package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/phxtoken"
)

// Every invalid setting is reported on one line that names it (the flag,
// the variable or the file's key) and says what it accepts, and the binary
// exits 2: no usage dump after the message, no second message about the
// same setting.

// errVersion is what parseConfig returns for --version.
var errVersion = errors.New("version requested")

// parseArgs sets the flags of args on fs as flag.Parse would (-name and
// --name, -name=value or -name value, a boolean alone means true, "--" or
// the first argument that is not a flag ends the flags), but reports an
// error on one line naming the flag and the form it accepts, and prints
// nothing. It returns flag.ErrHelp for -h and --help, errVersion for
// --version.
func parseArgs(fs *flag.FlagSet, args []string) error {
	for len(args) > 0 {
		arg := args[0]
		if len(arg) < 2 || arg[0] != '-' {
			break
		}
		args = args[1:]
		if arg == "--" {
			break
		}
		name := strings.TrimPrefix(arg[1:], "-")
		value, hasValue := "", false
		if i := strings.IndexByte(name, '='); i >= 0 {
			name, value, hasValue = name[:i], name[i+1:], true
		}
		switch name {
		case "h", "help":
			return flag.ErrHelp
		case "version":
			return errVersion
		}
		f := fs.Lookup(name)
		if f == nil || name == "" {
			return fmt.Errorf("unknown flag %s (fawkes --help lists every setting)", arg)
		}
		if !hasValue {
			if isBoolFlag(f) {
				value = "true"
			} else if len(args) == 0 || strings.HasPrefix(args[0], "--") {
				return fmt.Errorf("--%s needs a value: %s", name, acceptedForm(f.Value, false))
			} else {
				value, args = args[0], args[1:]
			}
		}
		if err := fs.Set(name, value); err != nil {
			return invalidSetting(fs, f, "--"+name+" "+quoteIfNeeded(value), err, false)
		}
	}
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q: settings are flags such as --addr :4000 (fawkes --help lists them)", args[0])
	}
	return nil
}

// invalidSetting is the one-line error for a value of f that did not
// parse; what names the setting and its value as the user wrote them. It
// puts f's default back, so that the value the failed Set left behind (a
// duration flag keeps 0) draws no second message from validate.
func invalidSetting(fs *flag.FlagSet, f *flag.Flag, what string, err error, inTOML bool) error {
	_ = fs.Set(f.Name, f.DefValue)
	if form := acceptedForm(f.Value, inTOML); form != "" {
		return fmt.Errorf("%s: want %s", what, form)
	}
	return fmt.Errorf("%s: %v", what, err)
}

// acceptedForm says what a flag value accepts, or "" if the value's own
// error says it best. inTOML asks for the TOML spelling: there a duration
// is a string.
func acceptedForm(v flag.Value, inTOML bool) string {
	switch v := v.(type) {
	case *byteSize:
		return "a size in bytes, such as 65536, 256KiB or 1MiB"
	case *tokenMaxAge:
		if inTOML {
			return `a duration in quotes such as "24h", "infinity", or "0" (the age embedded in the token)`
		}
		return "a duration such as 24h, infinity, or 0 (the age embedded in the token)"
	case *ingressMode:
		return "auto, token or open"
	case flag.Getter:
		switch v.Get().(type) {
		case time.Duration:
			if inTOML {
				return `a duration in quotes with its unit, such as "60s", "1m30s" or "500ms"`
			}
			return "a duration with its unit, such as 60s, 1m30s or 500ms"
		case int, int64, uint, uint64:
			return "a whole number"
		case bool:
			return "true or false"
		case string:
			return "a text value"
		}
	}
	return ""
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"'\\") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// checkDependentSettings checks at start what would otherwise fail later,
// once the logger runs, with exit 1: settings that need a secret from the
// environment or must parse as a list or URL.
func checkDependentSettings(cfg *config, getenv func(string) string) error {
	var errs []error
	if cfg.CheckOrigin != "off" {
		if _, err := server.AllowOrigins(strings.Split(cfg.CheckOrigin, ",")); err != nil {
			errs = append(errs, fmt.Errorf("--check-origin %s: want off, or a comma list of origins such as //*.example.com,https://app.example (%v)", quoteIfNeeded(cfg.CheckOrigin), err))
		}
	}
	if cfg.Auth == "phoenix-token" {
		if secret := getenv(secretKeyBaseEnv); secret == "" {
			errs = append(errs, fmt.Errorf("--auth phoenix-token needs %s, the Phoenix app's secret_key_base (environment only)", secretKeyBaseEnv))
		} else if _, err := phxtoken.NewVerifier(secret, cfg.TokenSalt, phxtoken.Config{}); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", secretKeyBaseEnv, err))
		}
	}
	if cfg.Ingress == ingressToken && getenv(ingressTokenEnv) == "" && cfg.Auth != "phoenix-token" {
		errs = append(errs, fmt.Errorf("--ingress token needs %s or --auth phoenix-token", ingressTokenEnv))
	}
	if cfg.PubSub != "memory" {
		if _, err := goredis.ParseURL(cfg.RedisURL); err != nil {
			errs = append(errs, fmt.Errorf("--redis-url %s: want a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0 (%v)", quoteIfNeeded(cfg.RedisURL), err))
		}
	}
	return errors.Join(errs...)
}
