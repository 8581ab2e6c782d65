package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Case results.
const (
	resultPass = "pass"
	resultFail = "fail"
	resultSkip = "skip"
)

// caseResult is one case's outcome, as the JSON report shows it.
type caseResult struct {
	ID         string        `json:"id"`
	Area       string        `json:"area"`
	Group      string        `json:"group"`
	Checks     string        `json:"checks"`
	Spec       string        `json:"spec"`
	Since      []string      `json:"since"`
	Tags       []string      `json:"tags"`
	Result     string        `json:"result"`
	Duration   time.Duration `json:"-"`
	DurationMS float64       `json:"duration_ms"`
	SkipReason string        `json:"skip_reason,omitempty"`
	Failure    *failure      `json:"failure,omitempty"`
	Trace      []string      `json:"trace,omitempty"`
	File       string        `json:"file"`
	Line       int           `json:"line"`
}

// failure is the first mismatch of a failed case.
type failure struct {
	Message  string `json:"message"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Step     string `json:"step,omitempty"`
	Expected string `json:"expected,omitempty"`
	Got      string `json:"got,omitempty"`
}

func newResult(c *Case, result string) caseResult {
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	return caseResult{ID: c.ID(), Area: c.Area, Group: c.Group, Checks: c.Checks, Spec: c.Spec,
		Since: c.Since, Tags: tags, Result: result, File: c.File, Line: c.Line}
}

// report is every result of one run.
type report struct {
	Target     string       `json:"target"`
	Phoenix    string       `json:"phoenix,omitempty"`
	Groups     string       `json:"groups"`
	Total      int          `json:"total"`
	Passed     int          `json:"passed"`
	Failed     int          `json:"failed"`
	Skipped    int          `json:"skipped"`
	DurationMS float64      `json:"duration_ms"`
	Cases      []caseResult `json:"cases"`
	Started    time.Time    `json:"started"`
}

func (r *report) add(c caseResult) {
	c.DurationMS = float64(c.Duration.Microseconds()) / 1000
	r.Cases = append(r.Cases, c)
	r.Total++
	switch c.Result {
	case resultPass:
		r.Passed++
	case resultFail:
		r.Failed++
	default:
		r.Skipped++
	}
}

func (r *report) finish() {
	r.DurationMS = float64(time.Since(r.Started).Microseconds()) / 1000
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// humanWriter prints one line per case as it finishes, then a summary.
type humanWriter struct {
	w     io.Writer
	trace bool
}

func (h *humanWriter) caseLine(c caseResult) {
	label := map[string]string{resultPass: "PASS", resultFail: "FAIL", resultSkip: "SKIP"}[c.Result]
	where := c.Spec + "; Phoenix " + strings.Join(c.Since, ", ")
	switch c.Result {
	case resultPass:
		fmt.Fprintf(h.w, "%s %-46s %s (%s)\n", label, c.ID, roundDuration(c.Duration), where)
	case resultSkip:
		fmt.Fprintf(h.w, "%s %-46s %s\n", label, c.ID, c.SkipReason)
	case resultFail:
		fmt.Fprintf(h.w, "%s %-46s %s (%s): %s\n", label, c.ID, roundDuration(c.Duration), where, c.Failure.Message)
	}
	if h.trace && c.Result != resultSkip {
		for _, l := range c.Trace {
			fmt.Fprintln(h.w, "     ", l)
		}
	}
}

func (h *humanWriter) summary(r *report) {
	fmt.Fprintf(h.w, "\n%d passed, %d failed, %d skipped (%d cases, %s) against %s", r.Passed, r.Failed, r.Skipped, r.Total,
		roundDuration(time.Duration(r.DurationMS*float64(time.Millisecond))), r.Target)
	if r.Phoenix != "" {
		fmt.Fprintf(h.w, " as Phoenix %s", r.Phoenix)
	}
	fmt.Fprintf(h.w, ", groups %s\n", r.Groups)
	if r.Failed > 0 {
		fmt.Fprintln(h.w, "failed:")
		for _, c := range r.Cases {
			if c.Result == resultFail {
				fmt.Fprintf(h.w, "  %s (%s)\n", c.ID, c.Checks)
			}
		}
	}
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// JUnit XML: one testsuite per area, one testcase per case.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func seconds(ms float64) string { return fmt.Sprintf("%.3f", ms/1000) }

func (r *report) junit() junitSuites {
	out := junitSuites{Name: "fawkes-conform " + r.Target, Tests: r.Total, Failures: r.Failed, Skipped: r.Skipped, Time: seconds(r.DurationMS)}
	index := map[string]int{}
	var suiteMS []float64
	for _, c := range r.Cases {
		i, ok := index[c.Area]
		if !ok {
			i = len(out.Suites)
			index[c.Area] = i
			out.Suites = append(out.Suites, junitSuite{Name: c.Area})
			suiteMS = append(suiteMS, 0)
		}
		s := &out.Suites[i]
		jc := junitCase{Name: c.ID, Classname: "conformance." + c.Group + "." + c.Area, Time: seconds(c.DurationMS)}
		switch c.Result {
		case resultFail:
			detail := fmt.Sprintf("%s\nchecks: %s\nspec: %s; Phoenix %s\n", c.Failure.Message, c.Checks, c.Spec, strings.Join(c.Since, ", "))
			jc.Failure = &junitMessage{Message: c.Failure.Message, Text: detail}
			s.Failures++
		case resultSkip:
			jc.Skipped = &junitMessage{Message: c.SkipReason}
			s.Skipped++
		}
		if len(c.Trace) > 0 {
			jc.SystemOut = strings.Join(c.Trace, "\n")
		}
		s.Tests++
		s.Cases = append(s.Cases, jc)
		suiteMS[i] += c.DurationMS
		s.Time = seconds(suiteMS[i])
	}
	return out
}

func (r *report) writeJUnitFile(path string) error {
	b, err := xml.MarshalIndent(r.junit(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(b, '\n')...), 0o644)
}
