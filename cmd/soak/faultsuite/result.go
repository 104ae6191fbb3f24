package faultsuite

import (
	"fmt"
	"strings"
	"time"
)

// Tally counts what became of messages in one scenario. Producer fields
// come from delivery reports (or sync Produce results); read fields from
// reading the topic back — with the consumer under test in the consume
// scenarios, with a pure-Go verification consumer in the produce ones.
type Tally struct {
	Sent          int // accepted by Produce
	Acked         int // reported delivered (or sync Produce returned nil)
	Failed        int // reported failed
	Unreported    int // accepted and never reported: a broken contract
	DoubleReports int // reported more than once: a broken contract

	Read             int // records read
	Lost             int // acknowledged and never read
	Duplicated       int // extra copies of acknowledged messages read
	Reordered        int // acknowledged messages read before one produced earlier on their partition
	Mismatched       int // acknowledged at one offset, read at another
	FailedButWritten int // reported failed and read anyway (allowed: "may have been written")
	Foreign          int // records that no producer of the scenario sent there
	Gaps             int // offsets below the high watermark never read
	Redelivered      int // offsets read more than once by one consumer
}

// Add adds o to t.
func (t *Tally) Add(o Tally) {
	t.Sent += o.Sent
	t.Acked += o.Acked
	t.Failed += o.Failed
	t.Unreported += o.Unreported
	t.DoubleReports += o.DoubleReports
	t.Read += o.Read
	t.Lost += o.Lost
	t.Duplicated += o.Duplicated
	t.Reordered += o.Reordered
	t.Mismatched += o.Mismatched
	t.FailedButWritten += o.FailedButWritten
	t.Foreign += o.Foreign
	t.Gaps += o.Gaps
	t.Redelivered += o.Redelivered
}

// violations lists the counts that must be zero and are not.
func (t Tally) violations() []string {
	var out []string
	for _, c := range []struct {
		name string
		n    int
	}{
		{"unreported", t.Unreported}, {"reported twice", t.DoubleReports},
		{"lost", t.Lost}, {"duplicated", t.Duplicated}, {"reordered", t.Reordered},
		{"read at another offset than reported", t.Mismatched}, {"foreign records", t.Foreign},
		{"offset gaps", t.Gaps}, {"offsets read twice", t.Redelivered},
	} {
		if c.n != 0 {
			out = append(out, fmt.Sprintf("%d %s", c.n, c.name))
		}
	}
	return out
}

// Timing is a measured duration, with the bound it must respect (0: none,
// reported only).
type Timing struct {
	Name  string
	D     time.Duration
	Bound time.Duration
}

func (t Timing) String() string {
	if t.Bound == 0 {
		return fmt.Sprintf("%s %v", t.Name, t.D.Round(time.Millisecond))
	}
	return fmt.Sprintf("%s %v (bound %v)", t.Name, t.D.Round(time.Millisecond), t.Bound)
}

// Result is the outcome of one scenario for one engine (or one producer or
// consumer of it).
type Result struct {
	Scenario string // e.g. "leader-kill/async"
	Engine   string // "pure" or "rdkafka"
	Tally
	Timings  []Timing
	Notes    []string // facts worth reporting: victims, first failure, ...
	Problems []string // expectations broken beyond the tally
}

// Name is "scenario [engine]".
func (r *Result) Name() string { return r.Scenario + " [" + r.Engine + "]" }

func (r *Result) timing(name string, d, bound time.Duration) {
	r.Timings = append(r.Timings, Timing{Name: name, D: d, Bound: bound})
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *Result) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Violations lists everything that went wrong: counts that must be zero,
// timings over their bound, and other problems. Empty means the scenario
// passed.
func (r *Result) Violations() []string {
	out := r.Tally.violations()
	for _, t := range r.Timings {
		if t.Bound > 0 && t.D > t.Bound {
			out = append(out, fmt.Sprintf("%s took %v, bound %v", t.Name, t.D.Round(time.Millisecond), t.Bound))
		}
	}
	return append(out, r.Problems...)
}

// String is a multi-line summary.
func (r *Result) String() string {
	var b strings.Builder
	t := r.Tally
	fmt.Fprintf(&b, "%s: sent %d acked %d failed %d read %d lost %d duplicated %d reordered %d",
		r.Name(), t.Sent, t.Acked, t.Failed, t.Read, t.Lost, t.Duplicated, t.Reordered)
	if t.Gaps+t.Redelivered+t.Mismatched+t.Foreign+t.Unreported+t.DoubleReports > 0 {
		fmt.Fprintf(&b, " gaps %d redelivered %d mismatched %d foreign %d unreported %d double-reported %d",
			t.Gaps, t.Redelivered, t.Mismatched, t.Foreign, t.Unreported, t.DoubleReports)
	}
	if t.FailedButWritten > 0 {
		fmt.Fprintf(&b, " (failed but written %d)", t.FailedButWritten)
	}
	for _, tm := range r.Timings {
		fmt.Fprintf(&b, "\n  %s", tm)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\n  note: %s", n)
	}
	for _, v := range r.Violations() {
		fmt.Fprintf(&b, "\n  VIOLATION: %s", v)
	}
	return b.String()
}
