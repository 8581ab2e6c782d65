package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/hist"
)

// postScenario publishes stamped CloudEvents through the HTTP ingress
// (POST /events/{room}, structured mode), one per room of a conns
// --rooms N run, so that conns --await-events can time a broadcast that
// reaches connections held by several processes.
type postScenario struct {
	url         string
	topic       string
	rooms       string
	count       int
	eventBytes  int
	concurrency int
	token       string
	timeout     time.Duration
}

func (s *postScenario) register(fs *flag.FlagSet) {
	fs.StringVar(&s.url, "url", "http://127.0.0.1:4000", "base URL of the node whose ingress receives the events")
	fs.StringVar(&s.topic, "topic", "events:bench", "topic as conns was given it; the room is what follows \"events:\"")
	fs.StringVar(&s.rooms, "rooms", "shared", "shared (the topic's room) or a number R: rooms <room>-0 .. <room>-(R-1), as conns --rooms R names them")
	fs.IntVar(&s.count, "count", 1, "events per room")
	fs.IntVar(&s.eventBytes, "event-bytes", 300, "size of each CloudEvent")
	fs.IntVar(&s.concurrency, "concurrency", 16, "requests in flight")
	fs.StringVar(&s.token, "token", "", "bearer token (the node's FAWKES_INGRESS_TOKEN); empty sends none")
	fs.DurationVar(&s.timeout, "timeout", 10*time.Second, "bound on each request")
}

// postResult is the "result" of a post run.
type postResult struct {
	Posted          int            `json:"posted"`
	Accepted        int            `json:"accepted"` // 202
	Status          map[string]int `json:"status"`   // answers by HTTP status, "error" for failed requests
	Errors          []string       `json:"errors,omitempty"`
	FirstSentUnixNS int64          `json:"first_sent_unix_ns"`
	Seconds         float64        `json:"seconds"`
	Latency         hist.Summary   `json:"request_latency"`
}

// roomNames returns the rooms to post to.
func (s *postScenario) roomNames() ([]string, error) {
	room, ok := strings.CutPrefix(s.topic, "events:")
	if !ok || room == "" {
		return nil, fmt.Errorf("--topic %q: the ingress serves events:<room> topics only", s.topic)
	}
	if s.rooms == "shared" {
		return []string{room}, nil
	}
	n, err := strconv.Atoi(s.rooms)
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("--rooms %q: want shared or a positive number", s.rooms)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = room + "-" + strconv.Itoa(i)
	}
	return names, nil
}

// runPost is the post subcommand; it prints its JSON summary.
func runPost(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fawkes-bench post", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s postScenario
	s.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	sum := summary{Scenario: "post", Config: map[string]string{}, Machine: thisMachine()}
	fs.VisitAll(func(f *flag.Flag) { sum.Config[f.Name] = f.Value.String() })
	start := time.Now()
	sum.Started = start.UTC().Format(time.RFC3339)
	cpu0 := cpuOf(0)
	res, err := s.run(ctx)
	sum.Result = res
	sum.ElapsedS = time.Since(start).Seconds()
	sum.Client = clientFigures{CPUSeconds: cpuOf(0) - cpu0, RSSKiB: rssOf(0)}
	sum.OK = err == nil
	if err != nil {
		sum.Error = err.Error()
		logf("post failed: %v", err)
	}
	line, _ := json.Marshal(sum)
	fmt.Fprintf(stdout, "%s\n", line)
	if err != nil {
		return 1
	}
	return 0
}

func (s *postScenario) run(ctx context.Context) (*postResult, error) {
	rooms, err := s.roomNames()
	if err != nil {
		return nil, err
	}
	if s.count <= 0 {
		return nil, errors.New("--count must be positive")
	}
	type job struct {
		room string
		seq  uint64
	}
	jobs := make(chan job)
	res := &postResult{Status: map[string]int{}}
	var (
		mu        sync.Mutex
		lat       hist.Histogram
		firstSent atomic.Int64
		wg        sync.WaitGroup
	)
	client := &http.Client{Timeout: s.timeout}
	base := strings.TrimRight(s.url, "/")
	start := time.Now()
	for range max(1, s.concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				t0 := time.Now()
				storeMin(&firstSent, t0.UnixNano())
				status, err := s.post(ctx, client, base+"/events/"+j.room, appendBenchEvent(nil, 1, j.seq, s.eventBytes))
				lat.RecordDuration(time.Since(t0))
				mu.Lock()
				res.Posted++
				switch {
				case err != nil:
					res.Status["error"]++
					if len(res.Errors) < 5 && !contains(res.Errors, err.Error()) {
						res.Errors = append(res.Errors, err.Error())
					}
				default:
					res.Status[strconv.Itoa(status)]++
					if status == http.StatusAccepted {
						res.Accepted++
					}
				}
				mu.Unlock()
			}
		}()
	}
	var seq uint64
feed:
	for range s.count {
		for _, room := range rooms {
			select {
			case jobs <- job{room, seq}:
				seq++
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.FirstSentUnixNS = firstSent.Load()
	res.Latency = lat.Summarize()
	logf("posted %d events to %d rooms in %.3fs: %v", res.Posted, len(rooms), res.Seconds, res.Status)
	if res.Accepted < len(rooms)*s.count {
		return res, fmt.Errorf("%d of %d events accepted", res.Accepted, len(rooms)*s.count)
	}
	return res, nil
}

// post sends one structured-mode CloudEvent and returns the HTTP status.
func (s *postScenario) post(ctx context.Context, client *http.Client, url string, event []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
