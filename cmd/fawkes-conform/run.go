package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

// stepFailure is why a step failed: the first mismatch, as expected vs got.
type stepFailure struct {
	step     *Step
	file     string
	msg      string // when there is no expected/got pair
	expected string
	got      string
	path     string // where in the value, for JSON mismatches
}

func (f *stepFailure) Error() string {
	var b strings.Builder
	if f.step != nil {
		fmt.Fprintf(&b, "%s:%d %s: ", f.file, f.step.Line, f.step.Verb)
	}
	if f.msg != "" {
		b.WriteString(f.msg)
		if f.expected != "" {
			b.WriteString(": ")
		}
	}
	if f.expected != "" {
		if f.path != "" {
			b.WriteString("at " + f.path + ": ")
		}
		b.WriteString("expected " + f.expected + ", got " + f.got)
	}
	return b.String()
}

func failf(format string, args ...any) *stepFailure {
	return &stepFailure{msg: fmt.Sprintf(format, args...)}
}

func fromMismatch(msg string, m *mismatch) *stepFailure {
	return &stepFailure{msg: msg, expected: m.expected, got: m.got, path: m.path}
}

// target is where the server under test listens.
type target struct {
	httpBase string // http://host:port/socket (the mount)
	wsBase   string // ws://host:port/socket
	origin   string // scheme://host:port, for absolute paths of http steps
}

// caseRun is one run of one case.
type caseRun struct {
	ctx     context.Context
	c       *Case
	tgt     target
	timeout time.Duration
	vars    vars
	trace   *tracer
	client  *http.Client
	ws      map[string]*wsConn
	lp      map[string]*lpConn
	last    *httpResult
	ignore  []any
}

func (r *caseRun) closeAll() {
	for _, c := range r.ws {
		c.close()
	}
	for _, c := range r.lp {
		c.close()
	}
	r.client.CloseIdleConnections()
}

// run executes the case's steps and returns the first failure.
func (r *caseRun) run() error {
	defer r.closeAll()
	for _, p := range r.c.Ignore {
		s, err := r.vars.expand(p)
		if err != nil {
			return failf("ignore: %v", err)
		}
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return failf("ignore: %v", err)
		}
		r.ignore = append(r.ignore, v)
	}
	return r.steps(r.c.Steps)
}

func (r *caseRun) steps(steps []*Step) error {
	for _, s := range steps {
		if err := r.ctx.Err(); err != nil {
			return failf("interrupted")
		}
		if err := r.step(s); err != nil {
			var f *stepFailure
			if !errors.As(err, &f) {
				f = &stepFailure{msg: err.Error()}
			}
			if f.step == nil {
				f.step, f.file = s, path.Base(r.c.File)
			}
			return f
		}
	}
	return nil
}

func (r *caseRun) step(s *Step) error {
	switch s.Verb {
	case "repeat":
		n, err := r.number(s.Args[0])
		if err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			r.vars["i"] = strconv.Itoa(i)
			if err := r.steps(s.Block); err != nil {
				return err
			}
		}
		return nil
	case "sleep":
		d, err := r.vars.duration(s.Args[0])
		if err != nil {
			return err
		}
		r.trace.add("", "·", "sleep "+d.String())
		select {
		case <-time.After(d):
		case <-r.ctx.Done():
		}
		return nil
	case "connect", "upgrade":
		return r.connect(s)
	case "http":
		return r.http(s)
	case "status", "header", "no-header", "body", "json", "took":
		return r.checkHTTP(s)
	}
	if c, ok := r.ws[s.Conn]; ok {
		return r.wsStep(c, s)
	}
	if c, ok := r.lp[s.Conn]; ok {
		return r.lpStep(c, s)
	}
	return failf("connection %q is not open", connName(s.Conn))
}

func connName(n string) string {
	if n == "" {
		return "(default)"
	}
	return n
}

// options reads the option words of connect, upgrade and http.
func (r *caseRun) options(words []string) (dialOptions, error) {
	o := dialOptions{header: http.Header{}}
	for _, w := range words {
		w, err := r.vars.expand(w)
		if err != nil {
			return o, err
		}
		switch {
		case w == "-":
		case strings.HasPrefix(w, "?"):
			o.query, o.hasQuery = w[1:], true
		default:
			k, v, _ := strings.Cut(w, "=")
			switch k {
			case "origin":
				o.origin = v
			case "protocols":
				o.protocols = strings.Split(v, ",")
			case "header":
				hk, hv, _ := strings.Cut(v, ":")
				o.header.Add(strings.TrimSpace(hk), strings.TrimSpace(hv))
			case "content-type":
				o.contentType = v
			case "token-in":
				o.tokenInHeader = v == "header"
			case "body":
				o.body = v
			}
		}
	}
	return o, nil
}

func (r *caseRun) connect(s *Step) error {
	words := s.Args
	transport := "ws"
	if s.Verb == "connect" {
		transport, words = s.Args[0], s.Args[1:]
	}
	if r.ws[s.Conn] != nil || r.lp[s.Conn] != nil {
		return failf("connection %s is already open", connName(s.Conn))
	}
	opts, err := r.options(words)
	if err != nil {
		return err
	}
	if transport == "longpoll" {
		c := &lpConn{name: s.Conn, url: r.tgt.httpBase + "/longpoll", opts: opts, client: &http.Client{Transport: &http.Transport{}}, trace: r.trace, q: newQueue()}
		r.lp[s.Conn] = c
		ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
		defer cancel()
		err := c.open(ctx)
		r.last = c.last
		return err
	}
	c, hs, err := dialWS(r.ctx, s.Conn, r.tgt.wsBase+"/websocket", opts, r.trace)
	if err != nil {
		return err
	}
	r.last = &httpResult{what: "upgrade", status: hs.status, header: hs.header, body: hs.body, took: hs.took}
	if c != nil {
		r.ws[s.Conn] = c
	}
	if s.Verb == "connect" && c == nil {
		return &stepFailure{msg: "WebSocket upgrade refused", expected: "HTTP 101", got: fmt.Sprintf("HTTP %d %s", hs.status, shorten(string(hs.body), 200))}
	}
	return nil
}

// http sends a request without a session: METHOD PATH [?query] [options],
// the body from body= or the continuation lines.
func (r *caseRun) http(s *Step) error {
	opts, err := r.options(s.Args[2:])
	if err != nil {
		return err
	}
	p, err := r.vars.expand(s.Args[1])
	if err != nil {
		return err
	}
	u := r.tgt.httpBase + "/" + p
	if strings.HasPrefix(p, "/") {
		u = r.tgt.origin + p
	}
	if opts.hasQuery {
		u += "?" + opts.query
	}
	if opts.origin != "" {
		opts.header.Set("Origin", opts.origin)
	}
	if opts.contentType != "" {
		opts.header.Set("Content-Type", opts.contentType)
	}
	body := opts.body
	if len(s.Body) > 0 {
		body, err = r.vars.expand(strings.Join(s.Body, "\n"))
		if err != nil {
			return err
		}
	}
	r.trace.add("http", "→", s.Args[0]+" "+u+describeHeaders(opts.header, nil)+" "+shorten(body, 300))
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	res, err := httpDo(ctx, r.client, s.Args[0], u, opts.header, body)
	if err != nil {
		r.trace.add("http", "←", "error: "+err.Error())
		return failf("%s %s: %v", s.Args[0], u, err)
	}
	r.trace.add("http", "←", fmt.Sprintf("HTTP %d %s", res.status, shorten(string(res.body), 400)))
	r.last = res
	return nil
}

func (r *caseRun) checkHTTP(s *Step) error {
	res := r.last
	if res == nil {
		return failf("no HTTP answer to check yet")
	}
	switch s.Verb {
	case "status":
		want, err := r.number(s.Args[0])
		if err != nil {
			return err
		}
		if res.status != want {
			return &stepFailure{msg: "HTTP status", expected: strconv.Itoa(want), got: fmt.Sprintf("%d %s", res.status, shorten(string(res.body), 200))}
		}
	case "header":
		want, err := r.vars.expand(s.Args[1])
		if err != nil {
			return err
		}
		vals, ok := res.header[http.CanonicalHeaderKey(s.Args[0])]
		if !ok {
			return &stepFailure{msg: "header " + s.Args[0], expected: strconv.Quote(want), got: "no such header"}
		}
		got := strings.Join(vals, ", ")
		if !globMatch(strings.ToLower(want), strings.ToLower(got)) {
			return &stepFailure{msg: "header " + s.Args[0], expected: strconv.Quote(want), got: strconv.Quote(got)}
		}
	case "no-header":
		if vals, ok := res.header[http.CanonicalHeaderKey(s.Args[0])]; ok {
			return &stepFailure{msg: "header " + s.Args[0], expected: "no such header", got: strconv.Quote(strings.Join(vals, ", "))}
		}
	case "body":
		want, err := r.vars.expand(s.Rest)
		if err != nil {
			return err
		}
		if string(res.body) != want {
			return &stepFailure{msg: "HTTP body", expected: strconv.Quote(want), got: strconv.Quote(shorten(string(res.body), 300))}
		}
	case "json":
		want, err := r.pattern(s.Rest)
		if err != nil {
			return err
		}
		got, err := decodeJSON(res.body)
		if err != nil {
			return &stepFailure{msg: "HTTP body", expected: "JSON " + render(want), got: strconv.Quote(shorten(string(res.body), 300))}
		}
		if m := matchJSON(want, got, r.vars); m != nil {
			f := fromMismatch("HTTP body", m)
			if m.path != "" {
				f.msg += " " + shorten(string(res.body), 300)
			}
			return f
		}
	case "took":
		d, err := r.vars.duration(s.Args[1])
		if err != nil {
			return err
		}
		ok := false
		switch s.Args[0] {
		case "<":
			ok = res.took < d
		case "<=":
			ok = res.took <= d
		case ">":
			ok = res.took > d
		case ">=":
			ok = res.took >= d
		}
		if !ok {
			return &stepFailure{msg: "answer time", expected: s.Args[0] + " " + d.String(), got: res.took.Round(time.Millisecond).String()}
		}
	}
	return nil
}

// globMatch matches s against a pattern where "*" is any run of characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		j := strings.Index(s, p)
		if j < 0 {
			return false
		}
		s = s[j+len(p):]
	}
	return true
}

func (r *caseRun) number(expr string) (int, error) {
	s, err := r.vars.expand(expr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, failf("%q is not a number", s)
	}
	return n, nil
}

// pattern expands and decodes the JSON at the start of text.
func (r *caseRun) pattern(text string) (any, error) {
	raw, _, err := splitJSON(text)
	if err != nil {
		return nil, err
	}
	s, err := r.vars.expand(string(raw))
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, failf("invalid JSON after expansion %q: %v", shorten(s, 200), err)
	}
	return v, nil
}

// within reads the optional "within DURATION" after a JSON argument or in
// words, defaulting to the case timeout.
func (r *caseRun) within(words []string) (time.Duration, error) {
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "within" {
			return r.vars.duration(words[i+1])
		}
	}
	return r.timeout, nil
}

// receiver is what expectations read from: a WebSocket or a LongPoll session.
type receiver interface {
	next(deadline time.Time) (event, bool)
}

// nextEvent returns the next event that no ignore pattern matches, or
// that wanted accepts (an expectation's own frame is never ignored).
func (r *caseRun) nextEvent(rc receiver, name string, deadline time.Time, wanted func(any) bool) (event, bool) {
	for {
		e, ok := rc.next(deadline)
		if !ok || e.kind != evText || !r.ignored(e.data) {
			return e, ok
		}
		if wanted != nil {
			if v, err := decodeJSON(e.data); err == nil && wanted(v) {
				return e, true
			}
		}
		r.trace.add(name, "·", "ignored "+shorten(compactJSON(e.data), 200))
	}
}

// matchesAny returns a wanted function for nextEvent: the value matches
// one of the patterns.
func matchesAny(pats ...any) func(any) bool {
	return func(v any) bool {
		for _, p := range pats {
			if matchJSON(p, v, vars{}) == nil {
				return true
			}
		}
		return false
	}
}

func (r *caseRun) ignored(data []byte) bool {
	if len(r.ignore) == 0 {
		return false
	}
	v, err := decodeJSON(data)
	if err != nil {
		return false
	}
	for _, p := range r.ignore {
		if matchJSON(p, v, vars{}) == nil {
			return true
		}
	}
	return false
}

// expectFrame takes the next event and matches it with the pattern.
func (r *caseRun) expectFrame(rc receiver, s *Step, binary bool) error {
	want, err := r.pattern(s.Rest)
	if err != nil {
		return err
	}
	_, words, _ := splitJSON(s.Rest)
	wait, err := r.within(words)
	if err != nil {
		return err
	}
	e, ok := r.nextEvent(rc, s.Conn, time.Now().Add(wait), matchesAny(want))
	if !ok {
		return &stepFailure{expected: render(want), got: "nothing within " + wait.String()}
	}
	got, ferr := r.view(e, binary)
	if ferr != nil {
		return &stepFailure{expected: kindWord(binary) + " " + render(want), got: ferr.Error()}
	}
	if m := matchJSON(want, got, r.vars); m != nil {
		f := &stepFailure{expected: render(want), got: render(got)}
		if m.path != "" {
			f.msg = "at " + m.path + " expected " + m.expected + ", got " + m.got
		}
		return f
	}
	return nil
}

func kindWord(binary bool) string {
	if binary {
		return "binary frame"
	}
	return "text frame"
}

// view is the JSON form of a received event, or why it is not the kind of
// frame expected.
func (r *caseRun) view(e event, binary bool) (any, error) {
	switch {
	case e.kind == evText && !binary:
		v, err := decodeJSON(e.data)
		if err != nil {
			return nil, fmt.Errorf("text that is not JSON: %q", shorten(string(e.data), 200))
		}
		return v, nil
	case e.kind == evBinary && binary:
		return decodeServerBinary(e.data)
	}
	return nil, errors.New(e.String())
}

// expectAnyOrder takes as many events as there are patterns and requires
// a one-to-one match in some order.
func (r *caseRun) expectAnyOrder(rc receiver, s *Step) error {
	wait, err := r.within(s.Args)
	if err != nil {
		return err
	}
	var pats []any
	for _, line := range s.Body {
		p, err := r.pattern(line)
		if err != nil {
			return err
		}
		pats = append(pats, p)
	}
	deadline := time.Now().Add(wait)
	var got []any
	for range pats {
		e, ok := r.nextEvent(rc, s.Conn, deadline, matchesAny(pats...))
		if !ok {
			return &stepFailure{msg: fmt.Sprintf("%d of %d frames", len(got), len(pats)), expected: renderAll(pats), got: renderAll(got) + " and nothing more within " + wait.String()}
		}
		v, err := r.view(e, false)
		if err != nil {
			return &stepFailure{expected: "one of " + renderAll(pats), got: err.Error()}
		}
		got = append(got, v)
	}
	if !assign(pats, got, make([]bool, len(got)), r.vars) {
		return &stepFailure{msg: "frames in any order", expected: renderAll(pats), got: renderAll(got)}
	}
	return nil
}

// assign finds a one-to-one matching of patterns to values, capturing
// along the way.
func assign(pats, got []any, used []bool, captured vars) bool {
	if len(pats) == 0 {
		return true
	}
	for i, g := range got {
		if used[i] {
			continue
		}
		try := vars{}
		for k, v := range captured {
			try[k] = v
		}
		if matchJSON(pats[0], g, try) != nil {
			continue
		}
		used[i] = true
		if assign(pats[1:], got, used, try) {
			for k, v := range try {
				captured[k] = v
			}
			return true
		}
		used[i] = false
	}
	return false
}

func renderAll(vs []any) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = render(v)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// silent requires that nothing (but ignored frames) arrives for d.
func (r *caseRun) silent(rc receiver, s *Step) error {
	d, err := r.vars.duration(s.Args[0])
	if err != nil {
		return err
	}
	if e, ok := r.nextEvent(rc, s.Conn, time.Now().Add(d), nil); ok {
		return &stepFailure{expected: "nothing for " + d.String(), got: e.String()}
	}
	return nil
}

// closeCodes matches a close event with a set such as "1001,1002",
// "!1000" or "!1000,none" (none: the connection ended without a close
// frame).
func closeCodes(set string, e event) bool {
	for _, item := range strings.Split(set, ",") {
		switch {
		case item == "any":
			return true
		case item == "none":
			if e.kind == evEnd {
				return true
			}
		case strings.HasPrefix(item, "!"):
			if e.kind == evClose && strconv.Itoa(e.code) != item[1:] {
				return true
			}
		default:
			if e.kind == evClose && strconv.Itoa(e.code) == item {
				return true
			}
		}
	}
	return false
}

func describeCloseSet(set string) string {
	var parts []string
	for _, item := range strings.Split(set, ",") {
		switch {
		case item == "any":
			parts = append(parts, "any close")
		case item == "none":
			parts = append(parts, "the end of the connection")
		case strings.HasPrefix(item, "!"):
			parts = append(parts, "close with any code but "+item[1:])
		default:
			parts = append(parts, "close "+item)
		}
	}
	return strings.Join(parts, " or ")
}

func (r *caseRun) expectClose(rc receiver, s *Step) error {
	wait, err := r.within(s.Args[1:])
	if err != nil {
		return err
	}
	e, ok := r.nextEvent(rc, s.Conn, time.Now().Add(wait), nil)
	if !ok {
		return &stepFailure{expected: describeCloseSet(s.Args[0]), got: "nothing within " + wait.String()}
	}
	if !closeCodes(s.Args[0], e) {
		return &stepFailure{expected: describeCloseSet(s.Args[0]), got: e.String()}
	}
	return nil
}

// frameText expands the text argument of a send step.
func (r *caseRun) frameText(s *Step) (string, error) {
	if verbs[s.Verb].json {
		raw, _, err := splitJSON(s.Rest)
		if err != nil {
			return "", err
		}
		return r.vars.expand(string(raw))
	}
	return r.vars.expand(s.Rest)
}

func (r *caseRun) binaryPush(s *Step) ([]byte, error) {
	text, err := r.frameText(s)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON([]byte(text))
	if err != nil {
		return nil, err
	}
	return encodeClientPush(v)
}

func (r *caseRun) rawBinary(s *Step) ([]byte, error) {
	h, err := r.vars.expand(s.Args[0])
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, failf("send-raw-binary: %v", err)
	}
	return b, nil
}

var opcodes = map[string]ws.OpCode{
	"text": ws.OpText, "binary": ws.OpBinary, "cont": ws.OpContinuation,
	"ping": ws.OpPing, "pong": ws.OpPong, "close": ws.OpClose,
	"reserved": ws.OpCode(0x3),
}

func (r *caseRun) wsStep(c *wsConn, s *Step) error {
	switch s.Verb {
	case "send", "send-text":
		text, err := r.frameText(s)
		if err != nil {
			return err
		}
		return c.sendFrame(ws.OpText, true, []byte(text), text)
	case "send-lines":
		for _, line := range s.Body {
			text, err := r.vars.expand(line)
			if err != nil {
				return err
			}
			if err := c.sendFrame(ws.OpText, true, []byte(text), text); err != nil {
				return err
			}
		}
		return nil
	case "send-binary":
		b, err := r.binaryPush(s)
		if err != nil {
			return err
		}
		v, _ := r.frameText(s)
		return c.sendFrame(ws.OpBinary, true, b, "binary "+v)
	case "send-raw-binary":
		b, err := r.rawBinary(s)
		if err != nil {
			return err
		}
		return c.sendFrame(ws.OpBinary, true, b, fmt.Sprintf("binary % x", b))
	case "frame":
		text, err := r.vars.expand(s.Rest)
		if err != nil {
			return err
		}
		op, rest, _ := strings.Cut(text, " ")
		fin, payload, _ := strings.Cut(rest, " ")
		if fin != "fin" && fin != "more" {
			return failf("frame OPCODE fin|more PAYLOAD")
		}
		return c.sendFrame(opcodes[op], fin == "fin", []byte(payload), fmt.Sprintf("frame %s %s %q", op, fin, payload))
	case "ping":
		text, err := r.vars.expand(s.Rest)
		if err != nil {
			return err
		}
		return c.sendFrame(ws.OpPing, true, []byte(text), fmt.Sprintf("ping %q", text))
	case "close":
		code, err := r.number(s.Args[0])
		if err != nil {
			return err
		}
		reason := strings.Join(s.Args[1:], " ")
		return c.sendFrame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusCode(code), reason), fmt.Sprintf("close %d %q", code, reason))
	case "disconnect":
		r.trace.add(s.Conn, "→", "TCP close")
		_ = c.conn.Close()
		return nil
	case "expect":
		return r.expectFrame(c, s, false)
	case "expect-binary":
		return r.expectFrame(c, s, true)
	case "expect-any-order":
		return r.expectAnyOrder(c, s)
	case "expect-close":
		return r.expectClose(c, s)
	case "silent":
		return r.silent(c, s)
	case "expect-pong":
		want, err := r.vars.expand(s.Rest)
		if err != nil {
			return err
		}
		p, ok := c.pong(time.Now().Add(r.timeout))
		if !ok {
			return &stepFailure{expected: fmt.Sprintf("pong %q", want), got: "nothing within " + r.timeout.String()}
		}
		if string(p) != want {
			return &stepFailure{expected: fmt.Sprintf("pong %q", want), got: fmt.Sprintf("pong %q", p)}
		}
		return nil
	}
	return failf("%s is not a WebSocket step", s.Verb)
}

const ndjson = "application/x-ndjson"

func (r *caseRun) lpStep(c *lpConn, s *Step) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
	defer cancel()
	switch s.Verb {
	case "send", "send-text":
		text, err := r.frameText(s)
		if err != nil {
			return err
		}
		return c.send(ctx, ndjson, text)
	case "send-binary", "send-raw-binary":
		var b []byte
		var err error
		if s.Verb == "send-binary" {
			b, err = r.binaryPush(s)
		} else {
			b, err = r.rawBinary(s)
		}
		if err != nil {
			return err
		}
		return c.send(ctx, ndjson, base64.StdEncoding.EncodeToString(b))
	case "send-lines":
		ct, sep := ndjson, "\n"
		for _, a := range s.Args {
			if a == "crlf" {
				sep = "\r\n"
			} else {
				ct = a
			}
		}
		body, err := r.vars.expand(strings.Join(s.Body, sep))
		if err != nil {
			return err
		}
		return c.send(ctx, ct, body)
	case "post":
		body, err := r.vars.expand(strings.Join(s.Body, "\n"))
		if err != nil {
			return err
		}
		ct := s.Args[0]
		if ct == "-" {
			ct = ""
		}
		res, err := c.do(ctx, http.MethodPost, ct, body)
		if err != nil {
			return failf("POST: %v", err)
		}
		r.last = res
		return nil
	case "poll":
		wait, err := r.within(s.Args)
		if err != nil {
			return err
		}
		pctx, pcancel := context.WithTimeout(r.ctx, wait)
		defer pcancel()
		res, err := c.poll(pctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return &stepFailure{msg: "poll", expected: "an answer within " + wait.String(), got: "none"}
		}
		if err != nil {
			return failf("poll: %v", err)
		}
		r.last = res
		return nil
	case "disconnect":
		c.close()
		return nil
	case "expect":
		return r.expectFrame(c, s, false)
	case "expect-binary":
		return r.expectFrame(c, s, true)
	case "expect-any-order":
		return r.expectAnyOrder(c, s)
	case "silent":
		return r.silent(c, s)
	}
	return failf("%s is not a LongPoll step", s.Verb)
}
