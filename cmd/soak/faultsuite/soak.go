package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// ScenarioNames lists the scenarios of a round, in the order they run.
var ScenarioNames = []string{"leader-kill", "leader-kill-expiry", "consume-leader-change", "consume-cluster-restart", "network", "pipeline"}

// RoundConfig says what a round runs.
type RoundConfig struct {
	// Engines run every scenario (NetworkFaults runs the pure engine, if
	// among them, only).
	Engines []Engine
	// ExpiryEngines run LeaderKillExpiry instead. Default: the pure
	// engine, if among Engines (see LeaderKillExpiry on librdkafka).
	ExpiryEngines []Engine
	// Scenarios restricts the round to these names (nil: all).
	Scenarios []string
	// MemberCommand makes the command that runs this program as a
	// pipeline member (see PipelineMemberEnv); the pipeline scenario
	// starts its members with it, and is left out without it.
	MemberCommand func() *exec.Cmd
}

// Round runs every scenario once, in the order of ScenarioNames. A scenario
// that cannot run does not stop the round: its error is joined to the one
// returned, every broker is started again, and the next scenario runs.
func Round(ctx context.Context, env *Env, cfg RoundConfig) ([]Result, error) {
	expiry := cfg.ExpiryEngines
	if expiry == nil && slices.Contains(cfg.Engines, Pure) {
		expiry = []Engine{Pure}
	}
	run := map[string]func(context.Context, *Env) ([]Result, error){
		"leader-kill": func(ctx context.Context, env *Env) ([]Result, error) { return LeaderKill(ctx, env, cfg.Engines) },
		"leader-kill-expiry": func(ctx context.Context, env *Env) ([]Result, error) {
			return LeaderKillExpiry(ctx, env, expiry)
		},
		"consume-leader-change": func(ctx context.Context, env *Env) ([]Result, error) {
			return ConsumeLeaderChange(ctx, env, cfg.Engines)
		},
		"consume-cluster-restart": func(ctx context.Context, env *Env) ([]Result, error) {
			return ConsumeClusterRestart(ctx, env, cfg.Engines)
		},
		"network": NetworkFaults,
		"pipeline": func(ctx context.Context, env *Env) ([]Result, error) {
			return PipelineKill(ctx, env, cfg.Engines, cfg.MemberCommand)
		},
	}
	skip := map[string]bool{
		"leader-kill-expiry": len(expiry) == 0,
		"network":            !slices.Contains(cfg.Engines, Pure),
		"pipeline":           cfg.MemberCommand == nil,
	}
	var results []Result
	var errs []error
	for _, name := range ScenarioNames {
		if skip[name] || (cfg.Scenarios != nil && !slices.Contains(cfg.Scenarios, name)) {
			continue
		}
		t0 := time.Now()
		rs, err := run[name](ctx, env)
		env.logf("%s: %d results in %v", name, len(rs), time.Since(t0).Round(time.Second))
		results = append(results, rs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			if ctx.Err() != nil {
				break
			}
			if serr := env.StartAll(ctx); serr != nil {
				errs = append(errs, fmt.Errorf("restoring the cluster after %s: %w", name, serr))
				break
			}
		}
	}
	return results, errors.Join(errs...)
}

// Totals sums the Results of many rounds.
type Totals struct {
	Rounds     int
	Results    int
	Errors     int // scenarios that could not run
	Violations int // broken expectations, over all Results
	Tally
	// FirstViolations keeps the first few, with the Result they came from.
	FirstViolations []string
	FirstErrors     []string
	timings         map[string][]time.Duration
	timingOrder     []string
}

// Add counts one round's Results and error.
func (t *Totals) Add(results []Result, err error) {
	t.Rounds++
	if err != nil {
		t.Errors++
		if len(t.FirstErrors) < 10 {
			t.FirstErrors = append(t.FirstErrors, fmt.Sprintf("round %d: %v", t.Rounds, err))
		}
	}
	if t.timings == nil {
		t.timings = map[string][]time.Duration{}
	}
	for i := range results {
		r := &results[i]
		t.Results++
		t.Tally.Add(r.Tally)
		for _, v := range r.Violations() {
			t.Violations++
			if len(t.FirstViolations) < 20 {
				t.FirstViolations = append(t.FirstViolations, fmt.Sprintf("round %d, %s: %s", t.Rounds, r.Name(), v))
			}
		}
		for _, tm := range r.Timings {
			key := r.Name() + ": " + tm.Name
			if _, ok := t.timings[key]; !ok {
				t.timingOrder = append(t.timingOrder, key)
			}
			t.timings[key] = append(t.timings[key], tm.D)
		}
	}
}

// Clean reports whether nothing went wrong.
func (t *Totals) Clean() bool { return t.Errors == 0 && t.Violations == 0 }

// String prints the totals, then the spread (min / median / max) of every
// timing over the rounds, then the first violations and errors. "read"
// counts every reader's records: a message read by the consumers of both
// engines and by a verification consumer counts three times.
func (t *Totals) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d rounds, %d results: sent %d acknowledged %d failed %d read %d lost %d duplicated %d reordered %d gaps %d redelivered %d; violations %d, errors %d\n",
		t.Rounds, t.Results, t.Sent, t.Acked, t.Failed, t.Read, t.Lost, t.Duplicated, t.Reordered, t.Gaps, t.Redelivered, t.Violations, t.Errors)
	if t.FailedButWritten > 0 {
		fmt.Fprintf(&b, "soak: %d messages reported failed were written anyway (allowed)\n", t.FailedButWritten)
	}
	for _, key := range t.timingOrder {
		ds := slices.Clone(t.timings[key])
		slices.Sort(ds)
		fmt.Fprintf(&b, "  %-110s min %8v  median %8v  max %8v\n", key,
			ds[0].Round(time.Millisecond), ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	for _, v := range t.FirstViolations {
		fmt.Fprintf(&b, "  VIOLATION %s\n", v)
	}
	for _, e := range t.FirstErrors {
		fmt.Fprintf(&b, "  ERROR %s\n", e)
	}
	return b.String()
}

// Soak runs rounds Rounds and prints each Result to out as it comes; it
// returns the totals. It stops early only when ctx ends.
func Soak(ctx context.Context, env *Env, rounds int, cfg RoundConfig, out io.Writer) *Totals {
	t := &Totals{}
	for i := range rounds {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		results, err := Round(ctx, env, cfg)
		for j := range results {
			fmt.Fprintf(out, "round %d: %s\n", i+1, results[j].String())
		}
		if err != nil {
			fmt.Fprintf(out, "round %d: ERROR %v\n", i+1, err)
		}
		t.Add(results, err)
		fmt.Fprintf(out, "round %d done in %v: sent %d acknowledged %d read %d lost %d duplicated %d so far\n",
			i+1, time.Since(t0).Round(time.Second), t.Sent, t.Acked, t.Read, t.Lost, t.Duplicated)
	}
	return t
}
