package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/limit"
)

// runLimitServer is the limit-server subcommand: it serves until
// interrupted or --max-time, then prints its JSON summary.
func runLimitServer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fawkes-bench limit-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg limit.Config
	addr := fs.String("addr", "127.0.0.1:4100", "listen address")
	maxTime := fs.Duration("max-time", 30*time.Minute, "stop after this long (0: until interrupted)")
	fs.StringVar(&cfg.PublishEvent, "publish-event", "cloudevent", "event whose payload is broadcast")
	fs.StringVar(&cfg.BroadcastEvent, "broadcast-event", "", "event name of broadcast frames (default: --publish-event)")
	fs.BoolVar(&cfg.IncludeSender, "include-sender", false, "send broadcasts to the publisher too")
	fs.IntVar(&cfg.Writers, "writers", 0, "goroutines writing broadcasts, each to its share of the connections (default GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	sum := summary{Scenario: "limit-server", Config: map[string]string{}, Machine: thisMachine()}
	fs.VisitAll(func(f *flag.Flag) { sum.Config[f.Name] = f.Value.String() })
	start := time.Now()
	sum.Started = start.UTC().Format(time.RFC3339)
	cpu0 := cpuOf(0)
	srv := limit.New(cfg)
	err := serveLimit(ctx, srv, *addr, *maxTime, stderr)
	_ = srv.Close()
	sum.ElapsedS = time.Since(start).Seconds()
	sum.Client = clientFigures{CPUSeconds: cpuOf(0) - cpu0, RSSKiB: rssOf(0)}
	if sum.ElapsedS > 0 {
		sum.Client.CPUUtil = sum.Client.CPUSeconds / sum.ElapsedS
	}
	sum.Result = map[string]uint64{
		"accepted":   srv.Stats.Accepted.Load(),
		"members":    srv.Stats.Members.Load(),
		"published":  srv.Stats.Published.Load(),
		"deliveries": srv.Stats.Deliveries.Load(),
		"write_fail": srv.Stats.WriteFails.Load(),
	}
	sum.OK = err == nil
	if err != nil {
		sum.Error = err.Error()
	}
	line, _ := json.Marshal(sum)
	fmt.Fprintf(stdout, "%s\n", line)
	if err != nil {
		fmt.Fprintln(stderr, "fawkes-bench: limit-server:", err)
		return 1
	}
	return 0
}

func serveLimit(ctx context.Context, srv *limit.Server, addr string, maxTime time.Duration, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxTime)
		defer cancel()
	}
	fmt.Fprintf(stderr, "fawkes-bench: limit-server listening on %s (pid %d)\n", ln.Addr(), os.Getpid())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return nil
	}
}
