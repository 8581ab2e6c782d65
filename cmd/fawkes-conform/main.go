// Command fawkes-conform checks that a server speaks the Phoenix Channels
// protocol as Phoenix does, judging only what crosses the wire: frames,
// HTTP statuses, headers and bodies, close codes and timing.
//
//	fawkes-conform -url http://localhost:4000/socket
//	fawkes-conform -url http://localhost:4000/socket -groups all -phoenix 1.7 -junit report.xml
//
// It runs a catalogue of cases (testdata/conformance/*.cases, built in);
// each names the section of docs/protocol.md it checks and the Phoenix release that
// introduced the behaviour. The core group needs the server to route
// "conformance:*" to the conformance channel (fawkes --conformance-channels,
// or the Elixir channel of docs/conformance.md). Exit status: 0 when no
// selected case failed, 1 when one did, 2 for a usage error.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// settingFlags are the settings cases may use ($name) or need ("needs
// name"), and the flag that gives each.
var settingFlags = map[string]string{
	"idle_timeout":      "-idle-timeout",
	"longpoll_window":   "-longpoll-window",
	"max_channels":      "-max-channels",
	"max_message_bytes": "-max-message-bytes",
	"token":             "-token or -token-secret",
	"bad_token":         "-bad-token",
	"origin_allowed":    "-origin-allowed",
	"origin_refused":    "-origin-refused",
	"events_heartbeat":  "-events-heartbeat",
	"presence_prefix":   "-presence-prefix",
}

// groups are the case groups: core always applies to a Phoenix server; the
// others check what an application decides, and run only when asked for.
var groups = []string{"core", "events", "presence", "token", "origin"}

// options are the parsed command line.
type options struct {
	url       string
	groups    string
	phoenix   string
	run       string
	tags      string
	list      bool
	json      bool
	junit     string
	trace     bool
	timeout   time.Duration
	casesDir  string
	settings  vars
	tokenSalt string
	tokenData string
	secret    string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{settings: vars{}}
	fs := flag.NewFlagSet("fawkes-conform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fawkes-conform -url http://host:4000/socket [flags]")
		fmt.Fprintln(stderr, "Runs the Phoenix Channels conformance catalogue against a server (see docs/conformance.md).")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "url", "", "the socket's mount URL, as phoenix.js is given it but over http(s): http://host:4000/socket")
	fs.StringVar(&o.groups, "groups", "core", "case groups, comma separated: "+strings.Join(groups, ", ")+", or all")
	fs.StringVar(&o.phoenix, "phoenix", "", "the Phoenix release whose behaviour the server claims (e.g. 1.7 or 1.8.12): cases introduced later are skipped")
	fs.StringVar(&o.run, "run", "", "run only the cases whose area/name matches this regular expression")
	fs.StringVar(&o.tags, "tags", "", "run only cases with one of these tags (a,b), and none of these (!slow)")
	fs.BoolVar(&o.list, "list", false, "list the selected cases and run nothing")
	fs.BoolVar(&o.json, "json", false, "write the report as JSON on stdout instead of one line per case")
	fs.StringVar(&o.junit, "junit", "", "also write a JUnit XML report to this file")
	fs.BoolVar(&o.trace, "trace", false, "show what crossed the wire for every case")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long an expectation waits by default")
	fs.StringVar(&o.casesDir, "cases", "", "read the *.cases files of this directory instead of the built-in catalogue")
	set := func(name, def, usage string) {
		o.settings[name] = def
		fs.Func(strings.TrimPrefix(settingFlags[name], "-"), usage+withDefault(def), func(v string) error {
			o.settings[name] = v
			return nil
		})
	}
	set("idle_timeout", "60s", "the server's idle timeout: a WebSocket that sends nothing for this long is closed")
	set("longpoll_window", "10s", "the server's LongPoll window: how long a poll waits for messages")
	set("max_channels", "100", "the server's limit of channels per connection")
	set("max_message_bytes", "", "the server's largest accepted message (cases about the limit need it)")
	set("bad_token", "SFMyNTY.g2gDbQAAAARub3BlbgYAAAAAAABiAAFRgA.invalid-signature", "a connect token the server refuses (group token)")
	set("origin_allowed", "", "an Origin the server accepts (group origin)")
	set("origin_refused", "", "an Origin the server refuses (group origin)")
	set("events_heartbeat", "", "the events channel's heartbeat interval (the heartbeat case needs it)")
	set("presence_prefix", "events:", "topic prefix of the channel that tracks presence (group presence)")
	fs.Func("token", "a connect token the server accepts (group token)", func(v string) error {
		o.settings["token"] = v
		return nil
	})
	fs.StringVar(&o.secret, "token-secret", "", "mint the token as Phoenix.Token.sign with this secret_key_base instead of -token")
	fs.StringVar(&o.tokenSalt, "token-salt", "user socket", "the salt of -token-secret")
	fs.StringVar(&o.tokenData, "token-data", "fawkes-conform", "the data (a string) of the token -token-secret mints")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.url == "" && !o.list {
		return nil, errors.New("-url is required: the socket's mount, e.g. http://localhost:4000/socket")
	}
	if o.secret != "" {
		tok, err := signToken(o.secret, o.tokenSalt, o.tokenData, time.Now(), 86400)
		if err != nil {
			return nil, err
		}
		o.settings["token"] = tok
	}
	// phoenix.js's authToken subprotocol entry: btoa(token) without "=".
	bearer := func(t string) string { return strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(t)), "=") }
	if t := o.settings["token"]; t != "" {
		o.settings["token_bearer"] = bearer(t)
	}
	o.settings["bad_token_bearer"] = bearer(o.settings["bad_token"])
	return o, nil
}

func withDefault(def string) string {
	if def == "" {
		return ""
	}
	return " (default " + def + ")"
}

// selection builds the case selection from the options.
func (o *options) selection() (*selection, error) {
	sel := &selection{groups: map[string]bool{}}
	for _, g := range strings.Split(o.groups, ",") {
		switch g = strings.TrimSpace(g); {
		case g == "all":
			sel.groups = nil
			continue
		case g == "":
			continue
		case !contains(groups, g):
			return nil, fmt.Errorf("-groups: unknown group %q (groups: %s, all)", g, strings.Join(groups, ", "))
		}
		if sel.groups != nil {
			sel.groups[g] = true
		}
	}
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return nil, fmt.Errorf("-run: %v", err)
		}
		sel.run = re
	}
	sel.parseTags(o.tags)
	if o.phoenix != "" {
		v, err := parseVersion(o.phoenix)
		if err != nil {
			return nil, fmt.Errorf("-phoenix: %v", err)
		}
		sel.phoenix = &v
	}
	return sel, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseTarget derives the WebSocket and HTTP bases from the mount URL.
func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("-url: %v", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return target{}, fmt.Errorf("-url %q: want http://host:port/mount", raw)
	}
	if u.Host == "" || u.RawQuery != "" {
		return target{}, fmt.Errorf("-url %q: want http://host:port/mount, without a query", raw)
	}
	mount := strings.TrimSuffix(u.Path, "/")
	mount = strings.TrimSuffix(strings.TrimSuffix(mount, "/websocket"), "/longpoll")
	origin := u.Scheme + "://" + u.Host
	wsScheme := "ws"
	if u.Scheme == "https" {
		wsScheme = "wss"
	}
	return target{httpBase: origin + mount, wsBase: wsScheme + "://" + u.Host + mount, origin: origin}, nil
}

// run is the whole command: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "fawkes-conform:", err)
		return 2
	}
	sel, err := o.selection()
	if err != nil {
		fmt.Fprintln(stderr, "fawkes-conform:", err)
		return 2
	}
	cases, err := loadCatalogue(o.casesDir)
	if err != nil {
		fmt.Fprintln(stderr, "fawkes-conform:", err)
		return 2
	}
	if o.list {
		for _, c := range cases {
			if ok, _ := sel.selected(c); ok {
				fmt.Fprintf(stdout, "%-46s %-8s %-14s %s — %s\n", c.ID(), c.Group, strings.Join(c.Since, ","), c.Spec, c.Checks)
			}
		}
		return 0
	}
	tgt, err := parseTarget(o.url)
	if err != nil {
		fmt.Fprintln(stderr, "fawkes-conform:", err)
		return 2
	}
	rep := &report{Target: o.url, Phoenix: o.phoenix, Groups: o.groups, Started: time.Now()}
	human := &humanWriter{w: stdout, trace: o.trace}
	if o.json {
		human = nil
	}
	for _, c := range cases {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "fawkes-conform: interrupted")
			break
		}
		ok, why := sel.selected(c)
		if !ok && why == "" {
			continue
		}
		var res caseResult
		if !ok {
			res = newResult(c, resultSkip)
			res.SkipReason = why
		} else {
			res = runCase(ctx, c, tgt, o)
		}
		rep.add(res)
		if human != nil {
			human.caseLine(res)
		}
	}
	rep.finish()
	if human != nil {
		human.summary(rep)
	} else if err := rep.writeJSON(stdout); err != nil {
		fmt.Fprintln(stderr, "fawkes-conform:", err)
		return 2
	}
	if o.junit != "" {
		if err := rep.writeJUnitFile(o.junit); err != nil {
			fmt.Fprintln(stderr, "fawkes-conform:", err)
			return 2
		}
	}
	if rep.Total == 0 {
		fmt.Fprintln(stderr, "fawkes-conform: no case selected")
		return 2
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

var runSeq atomic.Int64

// uid returns an identifier unique to one case run, for topics and user ids.
func uid() string {
	return strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "-" + strconv.FormatInt(runSeq.Add(1), 10)
}

// caseTimeout bounds one case, whatever its steps ask.
const caseTimeout = 5 * time.Minute

func runCase(ctx context.Context, c *Case, tgt target, o *options) caseResult {
	res := newResult(c, resultPass)
	for _, n := range c.Needs {
		if o.settings[n] == "" {
			res.Result = resultSkip
			res.SkipReason = "needs " + settingFlags[n]
			return res
		}
	}
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	defer cancel()
	v := vars{"uid": uid()}
	for k, val := range o.settings {
		v[k] = val
	}
	r := &caseRun{ctx: ctx, c: c, tgt: tgt, timeout: o.timeout, vars: v, trace: newTracer(),
		client: &http.Client{Transport: &http.Transport{}},
		ws:     map[string]*wsConn{}, lp: map[string]*lpConn{}}
	start := time.Now()
	err := r.run()
	res.Duration = time.Since(start)
	if err != nil {
		res.Result = resultFail
		var f *stepFailure
		if errors.As(err, &f) {
			res.Failure = &failure{Message: f.Error(), Expected: f.expected, Got: f.got}
			if f.step != nil {
				res.Failure.Line = f.step.Line
				res.Failure.Step = f.step.String()
				res.Failure.File = f.file
			}
		} else {
			res.Failure = &failure{Message: err.Error()}
		}
	}
	if o.trace || o.json && res.Result == resultFail {
		res.Trace = r.trace.snapshot()
	}
	return res
}
