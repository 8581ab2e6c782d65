package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// nodeWatch reads, around each fanout step, the CPU time of server
// processes (--watch-pids) and counters from their /metrics
// (--watch-metrics): what each node of a cluster spent on the step, the
// nodes without subscribers included.
type nodeWatch struct {
	pids    string
	urls    string
	series  string
	nodes   []watchedNode
	filters []string
}

type watchedNode struct {
	pid int
	url string
}

// defaultWatchSeries are the counters that say where a broadcast went.
const defaultWatchSeries = "fawkes_redis_broadcasts_total,fawkes_broadcasts_total,fawkes_broadcast_deliveries_total"

func (w *nodeWatch) register(fs *flag.FlagSet) {
	fs.StringVar(&w.pids, "watch-pids", "", "comma-separated server process ids whose CPU time each step reports (result steps[].nodes[]), e.g. every node of a cluster")
	fs.StringVar(&w.urls, "watch-metrics", "", "comma-separated Prometheus /metrics URLs, in --watch-pids order (an empty entry skips a node), whose --watch-series each step reports as increases")
	fs.StringVar(&w.series, "watch-series", defaultWatchSeries, "comma-separated metric names --watch-metrics reports (every label set of each)")
}

// parse checks the flags; it must run before sample.
func (w *nodeWatch) parse() error {
	pids, urls := splitList(w.pids), splitListKeepEmpty(w.urls)
	if len(urls) > 0 && len(pids) > 0 && len(urls) != len(pids) {
		return fmt.Errorf("--watch-metrics has %d entries, --watch-pids %d: give one per node", len(urls), len(pids))
	}
	n := max(len(pids), len(urls))
	w.nodes = make([]watchedNode, n)
	for i := range n {
		if i < len(pids) {
			pid, err := strconv.Atoi(pids[i])
			if err != nil || pid <= 0 {
				return fmt.Errorf("--watch-pids: %q is not a process id", pids[i])
			}
			w.nodes[i].pid = pid
		}
		if i < len(urls) {
			w.nodes[i].url = urls[i]
		}
	}
	w.filters = splitList(w.series)
	return nil
}

// watchedPIDs returns the valid entries of --watch-pids (before parse
// too), so the run's others_cpu_util can leave them out.
func (w *nodeWatch) watchedPIDs() []int {
	var pids []int
	for _, e := range splitList(w.pids) {
		if pid, err := strconv.Atoi(e); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// nodeSample is one reading of every watched node.
type nodeSample struct {
	cpu     []float64
	metrics []map[string]float64
	errs    []error
}

// sample reads every node now.
func (w *nodeWatch) sample(ctx context.Context) nodeSample {
	s := nodeSample{cpu: make([]float64, len(w.nodes)), metrics: make([]map[string]float64, len(w.nodes)), errs: make([]error, len(w.nodes))}
	for i, n := range w.nodes {
		if n.pid > 0 {
			s.cpu[i] = cpuOf(n.pid)
		}
		if n.url != "" {
			s.metrics[i], s.errs[i] = scrape(ctx, n.url, w.filters)
		}
	}
	return s
}

// nodeStep is what one node spent during a step.
type nodeStep struct {
	PID        int     `json:"pid,omitempty"`
	URL        string  `json:"metrics_url,omitempty"`
	CPUSeconds float64 `json:"cpu_s"`
	// Metrics holds each watched series' increase over the step, keyed
	// name{labels} as /metrics prints it.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// diff returns each node's figures between two samples.
func (w *nodeWatch) diff(a, b nodeSample) []nodeStep {
	if len(w.nodes) == 0 {
		return nil
	}
	out := make([]nodeStep, len(w.nodes))
	for i, n := range w.nodes {
		ns := nodeStep{PID: n.pid, URL: n.url}
		if n.pid > 0 {
			ns.CPUSeconds = b.cpu[i] - a.cpu[i]
		}
		if err := errors.Join(a.errs[i], b.errs[i]); err != nil {
			ns.Error = err.Error()
		} else if n.url != "" {
			ns.Metrics = map[string]float64{}
			for k, v := range b.metrics[i] {
				ns.Metrics[k] = v - a.metrics[i][k]
			}
		}
		out[i] = ns
	}
	return out
}

// scrape fetches a Prometheus text exposition and returns the samples of
// the metrics named in names, keyed as printed (name{labels}).
func scrape(ctx context.Context, url string, names []string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if key, v, ok := parseSample(sc.Text(), names); ok {
			out[key] = v
		}
	}
	return out, sc.Err()
}

// parseSample parses one exposition line "name{labels} value" whose name
// is in names.
func parseSample(line string, names []string) (key string, v float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", 0, false
	}
	key = line[:i]
	name, _, _ := strings.Cut(key, "{")
	found := false
	for _, n := range names {
		if n == name {
			found = true
			break
		}
	}
	if !found {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(line[i+1:], 64)
	return key, v, err == nil
}

// splitList splits a comma-separated flag, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for e := range strings.SplitSeq(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// splitListKeepEmpty splits a comma-separated flag, keeping empty entries
// in place (an empty flag gives none).
func splitListKeepEmpty(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	out := strings.Split(s, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}
