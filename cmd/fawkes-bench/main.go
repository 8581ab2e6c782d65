// Command fawkes-bench is a load generator for Phoenix Channels servers
// (Fawkes, or Phoenix itself) and a reference server that measures what the
// machine allows.
//
//	fawkes-bench conns   --conns 5000 --pid $(pidof fawkes)
//	fawkes-bench fanout  --subscribers 1000 --rate 100 --duration 10s
//	fawkes-bench fanout  --subscribers 1000 --find-max
//	fawkes-bench rpc     --conns 100 --duration 10s
//	fawkes-bench limit-server --addr 127.0.0.1:4100
//	fawkes-bench fanout  --target 127.0.0.1:4100 --subscribers 1000 --find-max
//	fawkes-bench fanout  --targets 127.0.0.1:4001,127.0.0.1:4002 --subscribers 1000 --rate 100
//	fawkes-bench conns   --targets 127.0.0.1:4001,127.0.0.1:4002 --rooms 100 --await-events 1 --hold 5m
//	fawkes-bench post    --url http://127.0.0.1:4001 --rooms 100
//	fawkes-bench fanout  --runs 5 --target 127.0.0.1:4000 --pid $(pidof fawkes) --reference 127.0.0.1:4100 --subscribers 1000 --rate 1600
//
// Progress goes to stderr; every run ends with exactly one JSON summary
// line on stdout holding the configuration and every figure (a series,
// --runs, adds one line with min/median/max over its runs). Run
// "fawkes-bench <scenario> --help" for the flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/proc"
)

const usage = `Usage: fawkes-bench <scenario> [flags]

Scenarios:
  conns         open N connections that join a room, hold them, report the server's memory per connection
                (--targets spreads them over a cluster's nodes, --rooms R over R rooms, --await-events
                times events published to the rooms)
  fanout        S subscribers in one room, one publisher at R events/s: deliveries/s, loss, latency
                (--find-max steps the rate up to the highest sustainable one; --targets spreads the
                subscribers over a cluster's nodes, the publisher on the first)
  post          POST one stamped CloudEvent to each room through a node's HTTP ingress
  resume        N clients and a publisher at R events/s; all drop at once, miss --missed events and rejoin
                with last_event_id: time until all caught up, replayed/s, nothing lost or twice
  rpc           C connections sending sequential pings: replies/s and latency
  limit-server  the reference server: the least work per connection and per broadcast;
                run fanout against it for the physical limit of this machine

Every run prints progress on stderr and one JSON summary line on stdout.
"fawkes-bench <scenario> --help" lists a scenario's flags.

A client scenario with --runs N repeats its step N times, and with --reference ADDR as often against
a reference server, interleaved (target, reference, target, ...; --target-cmd and --reference-cmd
start a fresh server for each run); stdout then holds one JSON line per run and a last line with
min/median/max of the key figures, which stderr shows as a table.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "limit-server":
		return runLimitServer(ctx, args[1:], stdout, stderr)
	case "post":
		return runPost(ctx, args[1:], stdout, stderr)
	}
	p, code := parseScenario(args[0], args[1:], stderr)
	if p == nil {
		return code
	}
	if p.series.enabled() {
		return runSeries(ctx, args[0], args[1:], p, stdout, stderr) // runs.go
	}
	sum := runOnce(ctx, args[0], p, stderr)
	line, _ := json.Marshal(sum)
	fmt.Fprintf(stdout, "%s\n", line)
	if !sum.OK {
		return 1
	}
	return 0
}

// newScenario returns the client scenario called name, or nil.
func newScenario(name string) scenario {
	switch name {
	case "conns":
		return &connsScenario{}
	case "fanout":
		return &fanoutScenario{}
	case "rpc":
		return &rpcScenario{}
	case "resume":
		return &resumeScenario{} // resume.go
	}
	return nil
}

// parsedScenario is a client scenario's command line.
type parsedScenario struct {
	sc     scenario
	common commonOptions
	series seriesOptions
	fs     *flag.FlagSet
}

// parseScenario parses the flags of the client scenario name. It returns
// nil and the exit code when there is nothing to run.
func parseScenario(name string, args []string, stderr io.Writer) (*parsedScenario, int) {
	p := &parsedScenario{sc: newScenario(name)}
	if p.sc == nil {
		fmt.Fprintf(stderr, "fawkes-bench: unknown scenario %q\n\n%s", name, usage)
		return nil, 2
	}
	p.fs = flag.NewFlagSet("fawkes-bench "+name, flag.ContinueOnError)
	p.fs.SetOutput(stderr)
	p.common.register(p.fs)
	p.series.register(p.fs)
	p.sc.register(p.fs)
	if err := p.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	if p.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fawkes-bench: unexpected argument %q\n", p.fs.Arg(0))
		return nil, 2
	}
	return p, 0
}

// runOnce runs the scenario once and returns its summary; a failure is
// also written to stderr.
func runOnce(ctx context.Context, name string, p *parsedScenario, stderr io.Writer) summary {
	sum := summary{Scenario: name, Config: map[string]string{}, Machine: thisMachine()}
	p.fs.VisitAll(func(f *flag.Flag) { sum.Config[f.Name] = f.Value.String() })
	err := execute(ctx, p.sc, &p.common, &sum)
	if err != nil {
		sum.Error = err.Error()
		fmt.Fprintf(stderr, "fawkes-bench: %s failed: %v\n", name, err)
	}
	sum.OK = err == nil
	return sum
}

// scenario is one subcommand that drives a fleet of connections.
type scenario interface {
	register(fs *flag.FlagSet)
	// run measures and returns the scenario's result for the summary.
	run(ctx context.Context, f *fleet, srv *serverWatch) (any, error)
}

// commonOptions are the flags of every client scenario.
type commonOptions struct {
	Target      string
	Targets     string
	SourceAddrs string
	DialTimeout time.Duration
	Concurrency int
	Heartbeat   time.Duration
	Reader      string
	Pollers     int
	PID         int
	Topic       string
	JoinPayload string
	CPUProfile  string
}

func (o *commonOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.Target, "target", "127.0.0.1:4000", "server: host:port (meaning ws://host:port/socket/websocket) or a ws:// URL; vsn=2.0.0 is added")
	fs.StringVar(&o.Targets, "targets", "", "several servers (nodes of one cluster), comma-separated host:port or ws:// URLs; connection i goes to target i mod count, a publisher to the first; replaces --target")
	fs.StringVar(&o.SourceAddrs, "source-addrs", "4", "cycle source addresses 127.0.0.1..127.0.0.N (N), or 127.0.0.A..127.0.0.B (A-B, for several load generators), for loopback targets (~28k ports each); 0 lets the OS choose")
	fs.DurationVar(&o.DialTimeout, "dial-timeout", 10*time.Second, "bound on connect + WebSocket handshake + join, per connection")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "connections being opened at once")
	fs.DurationVar(&o.Heartbeat, "heartbeat", 25*time.Second, `interval of [null,ref,"phoenix","heartbeat",{}] per connection`)
	defReader := "epoll"
	if runtime.GOOS != "linux" {
		defReader = "goroutine"
	}
	fs.StringVar(&o.Reader, "reader", defReader, "epoll (a few goroutines read every connection; Linux) or goroutine (one per connection)")
	fs.IntVar(&o.Pollers, "pollers", runtime.GOMAXPROCS(0), "epoll reading goroutines")
	fs.IntVar(&o.PID, "pid", 0, "the server's process id, to report its RSS and CPU time from /proc")
	fs.StringVar(&o.Topic, "topic", "events:bench", "topic to join (conns with --rooms unique appends -<n>)")
	fs.StringVar(&o.JoinPayload, "join-payload", "{}", "phx_join payload (JSON)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write the client's CPU profile (go tool pprof) to this file")
}

func execute(ctx context.Context, sc scenario, common *commonOptions, sum *summary) error {
	if !json.Valid([]byte(common.JoinPayload)) {
		return fmt.Errorf("--join-payload is not JSON: %s", common.JoinPayload)
	}
	if common.CPUProfile != "" {
		pf, err := os.Create(common.CPUProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			_ = pf.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = pf.Close()
		}()
	}
	start := time.Now()
	sum.Started = start.UTC().Format(time.RFC3339)
	var watched []int // --watch-pids other than --pid
	if w, ok := sc.(interface{ watchedPIDs() []int }); ok {
		for _, pid := range w.watchedPIDs() {
			if pid != common.PID && !slices.Contains(watched, pid) {
				watched = append(watched, pid)
			}
		}
	}
	srv, err := newServerWatch(common.PID, watched)
	if err != nil {
		return err
	}
	// A server that exits ends the run within a second, with the reason.
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopWatch := srv.watch(runCtx, cancel, time.Second)
	watchedCPU0 := cpuOfAll(watched)
	clientCPU0 := cpuOf(0)
	busy0, _ := proc.BusyCPU()
	f, err := newFleet(common)
	if err != nil {
		return err
	}
	logf("%s against %s", sum.Scenario, strings.Join(f.urls(), ", "))
	result, err := sc.run(runCtx, f, srv)
	stopWatch()
	sum.Result = result
	sum.Client = f.figures()
	sum.Client.CPUSeconds = cpuOf(0) - clientCPU0
	sum.Client.RSSKiB = rssOf(0)
	f.close()
	sum.ElapsedS = time.Since(start).Seconds()
	if sum.ElapsedS > 0 {
		sum.Client.CPUUtil = sum.Client.CPUSeconds / sum.ElapsedS
	}
	var procErr error
	sum.Server, procErr = srv.figures(sum.ElapsedS)
	if busy1, err := proc.BusyCPU(); err == nil && busy0 > 0 && sum.ElapsedS > 0 {
		sum.Machine.BusyUtil = (busy1 - busy0).Seconds() / sum.ElapsedS
		sum.Machine.OthersUtil = sum.Machine.BusyUtil - sum.Client.CPUUtil
		if sum.Server != nil {
			sum.Machine.OthersUtil -= sum.Server.CPUUtil
		}
		if len(watched) > 0 {
			sum.Machine.WatchedUtil = (cpuOfAll(watched) - watchedCPU0) / sum.ElapsedS
			sum.Machine.OthersUtil -= sum.Machine.WatchedUtil
		}
	}
	switch {
	case procErr != nil:
		// The cause: whatever else failed followed from it.
		if err != nil {
			logf("%s: %v", sum.Scenario, err)
		}
		return procErr
	case err == nil && ctx.Err() != nil:
		return errors.New("interrupted")
	}
	return err
}

// targets returns --targets, or --target when --targets is empty.
func (o *commonOptions) targets() []string {
	if list := splitList(o.Targets); len(list) > 0 {
		return list
	}
	return []string{o.Target}
}

// sourceAddrs parses --source-addrs: "N" is 127.0.0.1..N, "A-B" is
// 127.0.0.A..B. It returns the first address's last byte and the count.
func sourceAddrs(s string) (first, n int, err error) {
	bad := fmt.Errorf("--source-addrs %q: want N or A-B within 1..254", s)
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 0 || lo > 254 {
		return 0, 0, bad
	}
	if !isRange {
		return 1, lo, nil
	}
	hi, err := strconv.Atoi(b)
	if err != nil || lo < 1 || hi < lo || hi > 254 {
		return 0, 0, bad
	}
	return lo, hi - lo + 1, nil
}

// summary is the JSON line every run ends with.
type summary struct {
	Scenario string `json:"scenario"`
	// Run and Label place a run in a series (--runs, --reference): its
	// number from 1 and "target" or "reference".
	Run      int               `json:"run,omitempty"`
	Label    string            `json:"label,omitempty"`
	OK       bool              `json:"ok"`
	Error    string            `json:"error,omitempty"`
	Started  string            `json:"started"`
	ElapsedS float64           `json:"elapsed_s"`
	Config   map[string]string `json:"config"`
	Machine  machine           `json:"machine"`
	Client   clientFigures     `json:"client"`
	Server   *serverFigures    `json:"server,omitempty"`
	Result   any               `json:"result"`
}

type machine struct {
	NumCPU     int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	Go         string `json:"go"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	OpenFiles  uint64 `json:"open_files_limit"`
	// LoadAvg1m is the 1-minute load average at the start of the run.
	LoadAvg1m float64 `json:"load_avg_1m"`
	// BusyUtil is the CPU the whole machine used during the run, in cores;
	// WatchedUtil what the --watch-pids processes (other than --pid) used;
	// OthersUtil is BusyUtil minus this process, the --pid server and the
	// watched processes: what other processes took. A run with OthersUtil
	// well above zero measured a shared machine.
	BusyUtil    float64 `json:"busy_cpu_util"`
	WatchedUtil float64 `json:"watched_cpu_util,omitempty"`
	OthersUtil  float64 `json:"others_cpu_util"`
}

func thisMachine() machine {
	m := machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, OpenFiles: openFiles()}
	m.LoadAvg1m, _ = proc.LoadAvg()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// clientFigures are the load generator's own costs and counters.
type clientFigures struct {
	CPUSeconds       float64 `json:"cpu_s"`
	CPUUtil          float64 `json:"cpu_util"` // cpu_s / elapsed_s; 2.0 is both cores of a 2-core machine
	RSSKiB           int64   `json:"rss_kib"`
	HeartbeatsSent   uint64  `json:"heartbeats_sent"`
	HeartbeatReplies uint64  `json:"heartbeat_replies"`
	MessagesReceived uint64  `json:"messages_received"`
	BytesReceived    uint64  `json:"bytes_received"`
	Malformed        uint64  `json:"malformed_received"`
	ClosedByServer   uint64  `json:"closed_by_server"`
}

func (f *fleet) figures() clientFigures {
	return clientFigures{
		HeartbeatsSent:   f.stats.HeartbeatsSent.Load(),
		HeartbeatReplies: f.stats.HeartbeatReplies.Load(),
		MessagesReceived: f.stats.MessagesReceived.Load(),
		BytesReceived:    f.stats.BytesReceived.Load(),
		Malformed:        f.stats.MalformedReceived.Load(),
		ClosedByServer:   f.stats.Closed.Load(),
	}
}
