package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// A case file is read line by line; docs/conformance.md describes the
// format. Every line is one directive ("case", "checks", "spec", ...), one
// step ("[conn] verb args"), or a continuation ("| text") that adds a line
// to the step above it. "#" starts a comment line.

// Case is one conformance case: what it checks, where the rule is written,
// the Phoenix release that introduced it, and the steps that check it.
type Case struct {
	Area   string   // the file's name without ".cases"
	Name   string   // unique in its area
	Checks string   // one sentence: the rule, as the case checks it
	Spec   string   // the section of docs/protocol.md (or "events §" of docs/events-channel.md), e.g. "§4.3 duplicate join"
	Since  []string // Phoenix release(s) that introduced the behaviour
	Group  string   // "core", or an opt-in group
	Tags   []string
	Needs  []string // settings the case cannot run without
	Ignore []string // frame patterns skipped by expectations
	Steps  []*Step
	File   string
	Line   int
}

// ID is the case's name in output and in --run: area/name.
func (c *Case) ID() string { return c.Area + "/" + c.Name }

// Step is one line of a case, with its continuation lines, or a repeat
// block.
type Step struct {
	Line  int
	Conn  string // connection name; "" is the default connection
	Verb  string
	Args  []string // the words after the verb (verbs with word arguments)
	Rest  string   // everything after the verb (verbs with a JSON or text argument)
	Body  []string // continuation lines
	Block []*Step  // repeat: the steps repeated
}

// String prints the step as written (before variables are expanded).
func (s *Step) String() string {
	var b strings.Builder
	if s.Conn != "" {
		b.WriteString(s.Conn + " ")
	}
	b.WriteString(s.Verb)
	if s.Rest != "" {
		b.WriteString(" " + s.Rest)
	}
	return b.String()
}

// verbSpec says how a verb's line is read and checked.
type verbSpec struct {
	rest    bool // the argument is the rest of the line (JSON or text)
	json    bool // ... and it starts with a JSON value
	body    bool // continuation lines allowed
	conn    bool // acts on a connection
	minArgs int
	maxArgs int // -1: any
}

var verbs = map[string]verbSpec{
	"connect":          {conn: true, minArgs: 1, maxArgs: -1},
	"upgrade":          {conn: true, minArgs: 0, maxArgs: -1},
	"send":             {conn: true, rest: true, json: true},
	"send-text":        {conn: true, rest: true},
	"send-binary":      {conn: true, rest: true, json: true},
	"send-raw-binary":  {conn: true, minArgs: 1, maxArgs: 1},
	"send-lines":       {conn: true, body: true, maxArgs: 2},
	"frame":            {conn: true, rest: true},
	"ping":             {conn: true, rest: true},
	"close":            {conn: true, minArgs: 1, maxArgs: -1},
	"disconnect":       {conn: true},
	"expect":           {conn: true, rest: true, json: true},
	"expect-binary":    {conn: true, rest: true, json: true},
	"expect-any-order": {conn: true, body: true, maxArgs: 2},
	"expect-close":     {conn: true, minArgs: 1, maxArgs: 3},
	"expect-pong":      {conn: true, rest: true},
	"silent":           {conn: true, minArgs: 1, maxArgs: 1},
	"poll":             {conn: true, maxArgs: 2},
	"post":             {conn: true, body: true, minArgs: 1, maxArgs: 1},
	"http":             {body: true, minArgs: 2, maxArgs: -1},
	"status":           {minArgs: 1, maxArgs: 1},
	"header":           {minArgs: 2, maxArgs: 2},
	"no-header":        {minArgs: 1, maxArgs: 1},
	"body":             {rest: true},
	"json":             {rest: true, json: true},
	"took":             {minArgs: 2, maxArgs: 2},
	"sleep":            {minArgs: 1, maxArgs: 1},
	"repeat":           {minArgs: 1, maxArgs: 1},
	"end":              {},
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	varRefRE  = regexp.MustCompile(`\$pad\([^)]*\)|\$\{[a-z_][a-z0-9_]*\}|\$[a-z_][a-z0-9_]*`)
	closeSets = regexp.MustCompile(`^(!?[0-9]{4}|none|any)(,(!?[0-9]{4}|none|any))*$`)
)

// ParseError is a mistake in a case file.
type ParseError struct {
	File string
	Line int
	Msg  string
}

// Error returns "file:line: message".
func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// parseCases reads one case file. area is the file's name without its
// extension.
func parseCases(file, area string, r io.Reader) ([]*Case, error) {
	p := &parser{file: file, area: area, fileGroup: "core"}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		p.line++
		if err := p.parseLine(sc.Text()); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := p.finishCase(); err != nil {
		return nil, err
	}
	return p.cases, nil
}

type parser struct {
	file, area string
	line       int
	cases      []*Case
	cur        *Case
	blocks     [][]*Step // open repeat blocks; the innermost last
	lastStep   *Step
	conns      map[string]bool

	fileGroup  string
	fileTags   []string
	fileIgnore []string
	seen       map[string]bool
}

func (p *parser) errorf(format string, args ...any) error {
	return &ParseError{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parseLine(raw string) error {
	line := strings.TrimSpace(raw)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil
	}
	if strings.HasPrefix(line, "|") {
		return p.continuation(line)
	}
	word, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	switch word {
	case "case":
		return p.startCase(rest)
	case "checks", "spec", "since", "group", "tags", "needs", "ignore":
		return p.directive(word, rest)
	}
	if p.cur == nil {
		return p.errorf("%q before the first case", word)
	}
	return p.step(word, rest)
}

func (p *parser) startCase(name string) error {
	if err := p.finishCase(); err != nil {
		return err
	}
	if !nameRE.MatchString(name) {
		return p.errorf("case name %q: want lower case letters, digits, '-' and '_'", name)
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	if p.seen[name] {
		return p.errorf("case %q defined twice", name)
	}
	p.seen[name] = true
	p.cur = &Case{Area: p.area, Name: name, Group: p.fileGroup, File: p.file, Line: p.line,
		Tags: append([]string{}, p.fileTags...), Ignore: append([]string{}, p.fileIgnore...)}
	p.conns = map[string]bool{}
	p.lastStep = nil
	return nil
}

func (p *parser) directive(word, rest string) error {
	if rest == "" {
		return p.errorf("%s needs a value", word)
	}
	fileLevel := p.cur == nil
	if !fileLevel && len(p.cur.Steps) > 0 {
		return p.errorf("%s after the first step of case %s", word, p.cur.Name)
	}
	switch word {
	case "checks", "spec", "since", "needs":
		if fileLevel {
			return p.errorf("%s belongs to a case", word)
		}
	}
	switch word {
	case "checks":
		p.cur.Checks = rest
	case "spec":
		p.cur.Spec = rest
	case "since":
		for _, v := range strings.Split(rest, ",") {
			v = strings.TrimSpace(v)
			if _, err := parseVersion(v); err != nil {
				return p.errorf("since: %v", err)
			}
			p.cur.Since = append(p.cur.Since, v)
		}
	case "group":
		if !nameRE.MatchString(rest) {
			return p.errorf("group %q", rest)
		}
		if fileLevel {
			p.fileGroup = rest
		} else {
			p.cur.Group = rest
		}
	case "tags":
		if fileLevel {
			p.fileTags = append(p.fileTags, strings.Fields(rest)...)
		} else {
			p.cur.Tags = append(p.cur.Tags, strings.Fields(rest)...)
		}
	case "needs":
		for _, n := range strings.Fields(rest) {
			if _, ok := settingFlags[n]; !ok {
				return p.errorf("needs: unknown setting %q", n)
			}
			p.cur.Needs = append(p.cur.Needs, n)
		}
	case "ignore":
		if err := checkJSON(rest); err != nil {
			return p.errorf("ignore: %v", err)
		}
		if fileLevel {
			p.fileIgnore = append(p.fileIgnore, rest)
		} else {
			p.cur.Ignore = append(p.cur.Ignore, rest)
		}
	}
	return nil
}

func (p *parser) step(word, rest string) error {
	conn := ""
	if _, isVerb := verbs[word]; !isVerb {
		if !nameRE.MatchString(word) {
			return p.errorf("unknown verb %q", word)
		}
		conn = word
		word, rest, _ = strings.Cut(rest, " ")
		rest = strings.TrimSpace(rest)
		if _, isVerb := verbs[word]; !isVerb {
			return p.errorf("unknown verb %q", word)
		}
	}
	spec := verbs[word]
	if conn != "" && !spec.conn {
		return p.errorf("%s does not act on a connection", word)
	}
	s := &Step{Line: p.line, Conn: conn, Verb: word, Rest: rest}
	if !spec.rest {
		args, err := splitWords(rest)
		if err != nil {
			return p.errorf("%s: %v", word, err)
		}
		s.Args = args
		if len(args) < spec.minArgs || spec.maxArgs >= 0 && len(args) > spec.maxArgs {
			return p.errorf("%s: %d arguments", word, len(args))
		}
	}
	if err := p.check(s, spec); err != nil {
		return err
	}
	switch word {
	case "repeat":
		p.add(s)
		p.blocks = append(p.blocks, nil)
		p.lastStep = nil
		return nil
	case "end":
		if len(p.blocks) == 0 {
			return p.errorf("end without repeat")
		}
		block := p.blocks[len(p.blocks)-1]
		p.blocks = p.blocks[:len(p.blocks)-1]
		owner := p.lastOpen()
		owner.Block = block
		p.lastStep = nil
		return nil
	}
	p.add(s)
	p.lastStep = s
	return nil
}

// lastOpen returns the repeat step that the innermost open block belongs to.
func (p *parser) lastOpen() *Step {
	steps := p.cur.Steps
	if n := len(p.blocks); n > 0 {
		steps = p.blocks[n-1]
	}
	return steps[len(steps)-1]
}

func (p *parser) add(s *Step) {
	if n := len(p.blocks); n > 0 {
		p.blocks[n-1] = append(p.blocks[n-1], s)
		return
	}
	p.cur.Steps = append(p.cur.Steps, s)
}

// check validates a step as far as it can before variables have values.
func (p *parser) check(s *Step, spec verbSpec) error {
	switch s.Verb {
	case "connect", "upgrade":
		if s.Verb == "connect" && s.Args[0] != "ws" && s.Args[0] != "longpoll" {
			return p.errorf("connect ws|longpoll QUERY [options]")
		}
		p.conns[s.Conn] = true
		for _, a := range s.Args {
			if err := checkOption(a); err != nil {
				return p.errorf("%s: %v", s.Verb, err)
			}
		}
		return nil
	case "expect-close":
		if !closeSets.MatchString(s.Args[0]) {
			return p.errorf("expect-close: close codes %q (e.g. 1001,1002 or !1000,none)", s.Args[0])
		}
		if len(s.Args) > 1 && (len(s.Args) != 3 || s.Args[1] != "within") {
			return p.errorf("expect-close CODES [within DURATION]")
		}
	case "expect-any-order", "poll":
		if len(s.Args) > 0 && (len(s.Args) != 2 || s.Args[0] != "within") {
			return p.errorf("%s [within DURATION]", s.Verb)
		}
	case "frame":
		op, _, _ := strings.Cut(s.Rest, " ")
		if _, ok := opcodes[op]; !ok {
			return p.errorf("frame OPCODE fin|more PAYLOAD: opcode %q", op)
		}
	case "http":
		for _, a := range s.Args[2:] {
			if err := checkOption(a); err != nil {
				return p.errorf("http: %v", err)
			}
		}
	case "took":
		switch s.Args[0] {
		case "<", "<=", ">", ">=":
		default:
			return p.errorf("took < | <= | > | >= DURATION")
		}
	}
	if spec.conn && !p.conns[s.Conn] {
		if s.Conn == "" {
			return p.errorf("%s before connect", s.Verb)
		}
		return p.errorf("%s on connection %q before %s connect", s.Verb, s.Conn, s.Conn)
	}
	if spec.json {
		_, words, err := splitJSON(s.Rest)
		if err != nil {
			return p.errorf("%s: %v", s.Verb, err)
		}
		within := s.Verb == "expect" || s.Verb == "expect-binary"
		if len(words) > 0 && !(within && len(words) == 2 && words[0] == "within") {
			return p.errorf("%s: unexpected %q after the JSON value", s.Verb, strings.Join(words, " "))
		}
	}
	return nil
}

func (p *parser) continuation(line string) error {
	if p.lastStep == nil || !verbs[p.lastStep.Verb].body {
		return p.errorf("continuation line without a step that takes one")
	}
	text := strings.TrimPrefix(line, "|")
	if n, rest, ok := repeatedLine(text); ok {
		for i := 1; i <= n; i++ {
			p.lastStep.Body = append(p.lastStep.Body, strings.ReplaceAll(rest, "$i", fmt.Sprint(i)))
		}
		return nil
	}
	text = strings.TrimPrefix(text, " ")
	if p.lastStep.Verb == "expect-any-order" {
		if err := checkJSON(text); err != nil {
			return p.errorf("expect-any-order: %v", err)
		}
	}
	p.lastStep.Body = append(p.lastStep.Body, text)
	return nil
}

// repeatedLine reads "|*N text": the text N times, with $i counting from 1.
func repeatedLine(text string) (int, string, bool) {
	if !strings.HasPrefix(text, "*") {
		return 0, "", false
	}
	var n int
	head, rest, _ := strings.Cut(text[1:], " ")
	if _, err := fmt.Sscanf(head, "%d", &n); err != nil || n <= 0 || n > 10_000 {
		return 0, "", false
	}
	return n, rest, true
}

func (p *parser) finishCase() error {
	c := p.cur
	if c == nil {
		return nil
	}
	if len(p.blocks) > 0 {
		return p.errorf("case %s: repeat without end", c.Name)
	}
	missing := []string{}
	if c.Checks == "" {
		missing = append(missing, "checks")
	}
	if c.Spec == "" {
		missing = append(missing, "spec")
	}
	if len(c.Since) == 0 {
		missing = append(missing, "since")
	}
	if len(c.Steps) == 0 {
		missing = append(missing, "steps")
	}
	if len(missing) > 0 {
		return &ParseError{File: p.file, Line: c.Line, Msg: fmt.Sprintf("case %s has no %s", c.Name, strings.Join(missing, ", "))}
	}
	p.cases = append(p.cases, c)
	p.cur = nil
	return nil
}

// splitWords splits on spaces; 'single quotes' keep spaces in one word.
func splitWords(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	inQuote, inWord := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			inQuote = !inQuote
			inWord = true
		case r == ' ' && !inQuote:
			if inWord {
				out = append(out, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteRune(r)
			inWord = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unclosed quote in %q", s)
	}
	if inWord {
		out = append(out, b.String())
	}
	return out, nil
}

// checkOption validates one option word of connect, upgrade and http.
func checkOption(a string) error {
	if strings.HasPrefix(a, "?") || a == "-" || a == "ws" || a == "longpoll" {
		return nil
	}
	k, v, ok := strings.Cut(a, "=")
	if !ok {
		return fmt.Errorf("option %q: want key=value", a)
	}
	switch k {
	case "origin", "protocols", "content-type", "token-in", "body":
	case "header":
		if !strings.Contains(v, ":") {
			return fmt.Errorf("header=%q: want Name:value", v)
		}
	default:
		return fmt.Errorf("unknown option %q", k)
	}
	if k == "token-in" && v != "header" && v != "query" {
		return fmt.Errorf("token-in=header|query")
	}
	return nil
}

// splitJSON reads the JSON value at the start of s (variables replaced by
// placeholders) and returns it and the words after it.
func splitJSON(s string) (json.RawMessage, []string, error) {
	probe := placeholderVars(s)
	dec := json.NewDecoder(strings.NewReader(probe))
	dec.UseNumber()
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("invalid JSON %q: %v", shorten(s, 80), err)
	}
	// The decoder's offset is in probe; map it back through the replaced
	// variables by decoding s's prefix lengths: placeholders keep lengths.
	tail := strings.TrimSpace(s[dec.InputOffset():])
	words, err := splitWords(tail)
	return json.RawMessage(s[:dec.InputOffset()]), words, err
}

// placeholderVars replaces each variable reference by a same-length run of
// zero and spaces, so that the text stays valid JSON wherever the reference
// stands (in a string or as a number) and offsets are kept.
func placeholderVars(s string) string {
	return varRefRE.ReplaceAllStringFunc(s, func(m string) string { return "0" + strings.Repeat(" ", len(m)-1) })
}

func checkJSON(s string) error {
	_, words, err := splitJSON(s)
	if err == nil && len(words) > 0 {
		err = fmt.Errorf("unexpected %q after the JSON value", strings.Join(words, " "))
	}
	return err
}

// shorten cuts s to n bytes for messages.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// compactJSON returns raw without insignificant spaces, or raw when it is
// not JSON.
func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
