package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/proc"
)

// seriesOptions repeat a step: --runs times against the target and, with
// --reference, as often against a reference server, the two interleaved
// (target, reference, target, ...) so both see the same drift in the
// machine's load. The series ends with min/median/max of the step's key
// figures per side.
type seriesOptions struct {
	Runs         int
	Reference    string
	ReferencePID int
	TargetCmd    string
	ReferenceCmd string
	Pause        time.Duration
}

func (o *seriesOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&o.Runs, "runs", 1, "run the step this many times (and as many against --reference, interleaved); then one JSON line per run and a last line with min/median/max of the key figures (a table on stderr)")
	fs.StringVar(&o.Reference, "reference", "", "a reference server (host:port or ws:// URL, e.g. fawkes-bench limit-server) run against after each run against --target")
	fs.IntVar(&o.ReferencePID, "reference-pid", 0, "the --reference server's process id: --pid of its runs")
	fs.StringVar(&o.TargetCmd, "target-cmd", "", "start this command (split at spaces, no quoting) before each run against --target and stop it (SIGTERM) after, so every run has a fresh server; its pid is --pid")
	fs.StringVar(&o.ReferenceCmd, "reference-cmd", "", "as --target-cmd, for --reference")
	fs.DurationVar(&o.Pause, "run-pause", 5*time.Second, "pause between the runs of a series")
}

// enabled reports whether the command line asks for a series rather than
// one plain run.
func (o *seriesOptions) enabled() bool {
	return o.Runs != 1 || o.Reference != "" || o.TargetCmd != "" || o.ReferenceCmd != ""
}

// check reports a series' flags that do not go together.
func (o *seriesOptions) check(common *commonOptions) error {
	switch {
	case o.Runs < 1:
		return errors.New("--runs must be at least 1")
	case o.ReferencePID != 0 && o.Reference == "":
		return errors.New("--reference-pid without --reference")
	case o.ReferenceCmd != "" && o.Reference == "":
		return errors.New("--reference-cmd without --reference: it is the address to wait for")
	case o.ReferenceCmd != "" && o.ReferencePID != 0:
		return errors.New("--reference-cmd gives the reference's pid: leave --reference-pid out")
	case o.TargetCmd != "" && common.PID != 0:
		return errors.New("--target-cmd gives the target's pid: leave --pid out")
	case o.TargetCmd != "" && common.Targets != "":
		return errors.New("--target-cmd starts one server: use --target, not --targets")
	}
	return nil
}

// sideFlags are reset for a reference run: they name the target's
// processes and endpoints.
var sideFlags = []string{"targets", "watch-pids", "watch-metrics", "server-gc"}

// seriesSummary is the last JSON line of a series.
type seriesSummary struct {
	Scenario string `json:"scenario"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	// Runs is per side; Order is the sides in the order they ran in.
	Runs   int           `json:"runs"`
	Order  []string      `json:"order"`
	Series []sideSummary `json:"series"`
}

// sideSummary is what the runs against one server gave.
type sideSummary struct {
	Label  string `json:"label"` // "target" or "reference"
	Target string `json:"target"`
	OKRuns int    `json:"ok_runs"`
	Failed []int  `json:"failed_runs,omitempty"`
	// Figures are over the ok runs.
	Figures []figureStats `json:"figures"`
}

// figureStats is one key figure over the runs.
type figureStats struct {
	Name   string    `json:"name"`
	Min    float64   `json:"min"`
	Median float64   `json:"median"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"` // in run order
}

// figure is one key figure of a run.
type figure struct {
	name  string
	value float64
}

// keyFigurer is a scenario result that names the figures a series
// summarises.
type keyFigurer interface {
	keyFigures() []figure
}

func (r *fanoutResult) keyFigures() []figure {
	st := r.Best
	if st == nil && len(r.Steps) > 0 {
		st = &r.Steps[len(r.Steps)-1]
	}
	var out []figure
	if st != nil {
		out = append(out,
			figure{"deliveries_per_s", st.DeliveriesPerS},
			figure{"lost", float64(st.Lost)},
			figure{"latency_p50_ms", st.Latency.P50MS},
			figure{"latency_p99_ms", st.Latency.P99MS},
			figure{"latency_max_ms", st.Latency.MaxMS})
		if st.ServerCPUUSPerDelivery > 0 {
			out = append(out, figure{"server_cpu_us_per_delivery", st.ServerCPUUSPerDelivery})
		}
	}
	if r.StopReason != "" { // --find-max
		out = append(out, figure{"max_sustainable_rate", r.MaxSustainableRate})
	}
	return out
}

func (r *rpcResult) keyFigures() []figure {
	out := []figure{{"replies_per_s", r.RepliesPerS}, {"latency_p50_ms", r.Latency.P50MS}, {"latency_p99_ms", r.Latency.P99MS}}
	if r.StopReason != "" {
		out = append(out, figure{"max_sustainable_rate", r.MaxSustainableRate})
	}
	return out
}

func (r *connsResult) keyFigures() []figure {
	// The tool times connect and join together (one round trip each).
	out := []figure{{"connect_join_per_s", r.PerSecond}, {"connect_join_p50_ms", r.Latency.P50MS}, {"connect_join_p99_ms", r.Latency.P99MS}}
	if r.ServerRSSBefore > 0 {
		out = append(out, figure{"server_rss_per_conn_bytes", r.ServerBytesPer}, figure{"server_rss_per_conn_settled_bytes", r.ServerBytesPerSettled})
	}
	return out
}

func (r *resumeResult) keyFigures() []figure {
	return []figure{{"all_caught_up_ms", r.AllCaughtUpMS}, {"replayed_per_s", r.ReplayedPerS}, {"lost", float64(r.Lost)}, {"duplicates", float64(r.Duplicates)}}
}

// runFigures returns a run's key figures, the server's CPU included.
func runFigures(sum *summary) []figure {
	var out []figure
	if k, ok := sum.Result.(keyFigurer); ok {
		out = k.keyFigures()
	}
	if sum.Server != nil && sum.Server.Error == "" {
		out = append(out, figure{"server_cpu_util", sum.Server.CPUUtil})
	}
	return append(out, figure{"others_cpu_util", sum.Machine.OthersUtil})
}

// seriesSide is one server of a series.
type seriesSide struct {
	label, target, cmd string
	pid                int
	runs               []summary
}

// runSeries runs the series p asks for: each run a full step with the
// same flags (parsed anew from args), one JSON line each, then the
// seriesSummary line, and the table on stderr.
func runSeries(ctx context.Context, name string, args []string, p *parsedScenario, stdout, stderr io.Writer) int {
	o := p.series
	if err := o.check(&p.common); err != nil {
		fmt.Fprintf(stderr, "fawkes-bench: %v\n", err)
		return 2
	}
	sides := []*seriesSide{{label: "target", target: p.common.Target, cmd: o.TargetCmd, pid: p.common.PID}}
	if p.common.Targets != "" {
		sides[0].target = p.common.Targets
	}
	if o.Reference != "" {
		sides = append(sides, &seriesSide{label: "reference", target: o.Reference, cmd: o.ReferenceCmd, pid: o.ReferencePID})
	}
	first := true
	for run := 1; run <= o.Runs && ctx.Err() == nil; run++ {
		for _, side := range sides {
			if !first {
				sleepCtx(ctx, o.Pause)
			}
			first = false
			if ctx.Err() != nil {
				break
			}
			sum := runSide(ctx, name, args, side, run, o.Runs, stderr)
			line, _ := json.Marshal(sum)
			fmt.Fprintf(stdout, "%s\n", line)
			side.runs = append(side.runs, sum)
		}
	}
	ss := summarizeSeries(name, o.Runs, sides)
	if ctx.Err() != nil {
		ss.OK, ss.Error = false, "interrupted"
	}
	printSeriesTable(stderr, &ss)
	line, _ := json.Marshal(ss)
	fmt.Fprintf(stdout, "%s\n", line)
	if !ss.OK {
		return 1
	}
	return 0
}

// runSide runs the step once against side, starting its server first
// with --target-cmd / --reference-cmd.
func runSide(ctx context.Context, name string, args []string, side *seriesSide, run, runs int, stderr io.Writer) summary {
	p, _ := parseScenario(name, args, io.Discard) // parsed once already
	set := func(flagName, value string) {
		if p.fs.Lookup(flagName) != nil {
			_ = p.fs.Set(flagName, value)
		}
	}
	if side.label == "reference" {
		for _, f := range sideFlags {
			set(f, "")
		}
		set("target", side.target)
		set("pid", strconv.Itoa(side.pid))
	}
	fail := func(err error) summary {
		fmt.Fprintf(stderr, "fawkes-bench: %s run %d (%s) failed: %v\n", name, run, side.label, err)
		return summary{Scenario: name, Run: run, Label: side.label, Error: err.Error(), Started: time.Now().UTC().Format(time.RFC3339),
			Config: map[string]string{"target": side.target}, Machine: thisMachine()}
	}
	if side.cmd != "" {
		srv, err := startServer(ctx, side.cmd, side.target, stderr)
		if err != nil {
			return fail(err)
		}
		defer func() {
			if err := srv.stop(); err != nil {
				fmt.Fprintf(stderr, "fawkes-bench: %s run %d (%s): stopping the server: %v\n", name, run, side.label, err)
			}
		}()
		set("pid", strconv.Itoa(srv.pid()))
	}
	load := "unknown"
	if l, err := proc.LoadAvg(); err == nil {
		load = strconv.FormatFloat(l, 'f', 2, 64)
	}
	logf("%s run %d of %d against the %s (%s); 1-min load average %s", name, run, runs, side.label, side.target, load)
	sum := runOnce(ctx, name, p, stderr)
	sum.Run, sum.Label = run, side.label
	return sum
}

// summarizeSeries computes each side's figures over its ok runs.
func summarizeSeries(name string, runs int, sides []*seriesSide) seriesSummary {
	ss := seriesSummary{Scenario: name, OK: true, Runs: runs}
	failed := 0
	for _, side := range sides {
		ss.Order = append(ss.Order, side.label)
		sd := sideSummary{Label: side.label, Target: side.target, Figures: []figureStats{}}
		values := map[string][]float64{}
		var names []string
		for i := range side.runs {
			sum := &side.runs[i]
			if !sum.OK {
				sd.Failed = append(sd.Failed, sum.Run)
				continue
			}
			sd.OKRuns++
			for _, f := range runFigures(sum) {
				if _, seen := values[f.name]; !seen {
					names = append(names, f.name)
				}
				values[f.name] = append(values[f.name], f.value)
			}
		}
		for _, n := range names {
			sd.Figures = append(sd.Figures, stats(n, values[n]))
		}
		failed += len(sd.Failed)
		if sd.OKRuns < runs {
			ss.OK = false
		}
		ss.Series = append(ss.Series, sd)
	}
	if failed > 0 {
		ss.Error = fmt.Sprintf("%d of %d runs failed (see their lines)", failed, runs*len(sides))
	}
	return ss
}

// stats returns min, median and max of values (the mean of the middle
// two for an even count).
func stats(name string, values []float64) figureStats {
	s := slices.Clone(values)
	slices.Sort(s)
	fs := figureStats{Name: name, Values: values, Min: s[0], Max: s[len(s)-1]}
	if n := len(s); n%2 == 1 {
		fs.Median = s[n/2]
	} else {
		fs.Median = (s[n/2-1] + s[n/2]) / 2
	}
	return fs
}

// printSeriesTable writes the summary for people.
func printSeriesTable(w io.Writer, ss *seriesSummary) {
	fmt.Fprintf(w, "\n%s: %d run(s) per server, order %v; min / median / max over the ok runs\n", ss.Scenario, ss.Runs, ss.Order)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tfigure\tok runs\tmin\tmedian\tmax\t")
	for _, sd := range ss.Series {
		if len(sd.Figures) == 0 {
			fmt.Fprintf(tw, "%s\t(no ok run)\t%d/%d\t\t\t\t\n", sd.Label, sd.OKRuns, ss.Runs)
		}
		for _, f := range sd.Figures {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\t\n", sd.Label, f.Name, sd.OKRuns, ss.Runs, num(f.Min), num(f.Median), num(f.Max))
		}
	}
	_ = tw.Flush()
	for _, sd := range ss.Series {
		fmt.Fprintf(w, "%s: %s\n", sd.Label, sd.Target)
	}
	if ss.Error != "" {
		fmt.Fprintf(w, "fawkes-bench: %s\n", ss.Error)
	}
}

// num prints whole and large figures without decimals, others to two.
func num(v float64) string {
	if v >= 100 || v <= -100 || v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}
