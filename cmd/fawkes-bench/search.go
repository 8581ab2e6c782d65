package main

import (
	"context"
	"flag"
	"math"
	"time"
)

// rateSearch is the --find-max search of fanout and rpc: double the rate
// from the first one while steps are sustainable, then bisect between the
// highest sustainable and the lowest unsustainable rate until they are
// within 10%.
type rateSearch struct {
	enabled  bool
	maxP99   time.Duration
	maxRate  float64
	maxSteps int
	maxTime  time.Duration
	pause    time.Duration
}

// register adds the search flags; what is the unit of the rate ("events",
// "requests") and defP99 the default --max-p99.
func (rs *rateSearch) register(fs *flag.FlagSet, what string, defP99 time.Duration, defMaxRate float64) {
	fs.BoolVar(&rs.enabled, "find-max", false, "double the rate from --rate until a step is not sustainable (loss, errors, p99 over --max-p99, or under 90% of the rate sent), then bisect")
	fs.DurationVar(&rs.maxP99, "max-p99", defP99, "highest p99 latency a sustainable step may have")
	fs.Float64Var(&rs.maxRate, "max-rate", defMaxRate, "--find-max: never try more "+what+" per second than this")
	fs.IntVar(&rs.maxSteps, "max-steps", 12, "--find-max: at most this many steps")
	fs.DurationVar(&rs.maxTime, "max-time", 3*time.Minute, "--find-max: stop stepping after this long")
	fs.DurationVar(&rs.pause, "pause", time.Second, "--find-max: idle time between steps, for the server to settle")
}

// run calls step(rate) (which reports whether the step was sustainable)
// until the search converges or a bound stops it, and returns why it
// stopped. stepTime is how long one step takes at most, so that no step
// starts that would end after --max-time.
func (rs *rateSearch) run(ctx context.Context, first float64, stepTime time.Duration, step func(rate float64) (bool, error)) (string, error) {
	deadline := time.Now().Add(rs.maxTime)
	good, bad := 0.0, math.Inf(1)
	rate := first
	for i := 0; ; i++ {
		var stop string
		switch {
		case ctx.Err() != nil:
			stop = "interrupted"
		case i >= rs.maxSteps:
			stop = "max-steps"
		case time.Now().Add(stepTime).After(deadline):
			stop = "max-time"
		case !math.IsInf(bad, 1) && ((bad-good)/bad < 0.1 || rate <= good || rate >= bad):
			stop = "converged"
		case rate > rs.maxRate:
			stop = "max-rate"
		case rate < 1:
			stop = "below 1/s"
		}
		if stop != "" {
			return stop, nil
		}
		ok, err := step(rate)
		if err != nil {
			return "error", err
		}
		if ok {
			good = rate
		} else {
			bad = rate
		}
		rate = nextRate(good, bad)
		sleepCtx(ctx, rs.pause)
	}
}

// nextRate is the next rate to try given the highest sustainable (0: none
// yet) and lowest unsustainable (+Inf: none yet) rates.
func nextRate(good, bad float64) float64 {
	switch {
	case math.IsInf(bad, 1):
		return good * 2
	case good == 0:
		return math.Round(bad / 2)
	}
	return math.Round((good + bad) / 2)
}
