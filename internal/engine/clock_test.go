package engine

import (
	"testing"
	"time"
)

// TestClockStamps: stamps are the time of the call, to the monotonic
// clock's precision, across rebases.
func TestClockStamps(t *testing.T) {
	var c Clock
	deadline := time.Now().Add(2*rebase + 100*time.Millisecond)
	n := 0
	for time.Now().Before(deadline) {
		before := time.Now()
		ts := c.Now()
		after := time.Now()
		if ts.Before(before) || ts.After(after) {
			t.Fatalf("stamp %d: %v, called between %v and %v", n, ts, before, after)
		}
		if ts.Round(0).Before(before.Round(0).Add(-time.Millisecond)) || ts.Round(0).After(after.Round(0).Add(time.Millisecond)) {
			t.Fatalf("stamp %d: wall time %v, called between %v and %v", n, ts.Round(0), before.Round(0), after.Round(0))
		}
		n++
	}
}
