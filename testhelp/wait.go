package testhelp

import (
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// pollInterval is how often Eventually and WaitUntil look again: short
// enough that a measured recovery time is precise to it, long enough that a
// condition which sends a request each time does not load the cluster.
const pollInterval = 20 * time.Millisecond

// Eventually polls cond until it returns nil, and returns how long that
// took; if d passes first, it fails the test with what and cond's last
// error. Call it from the test's goroutine.
func Eventually(t testing.TB, d time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, d, err)
		}
		time.Sleep(pollInterval) // polling interval of a condition with a deadline
	}
}

var errNotYet = errors.New("condition false")

// WaitUntil is Eventually for a condition without an error to report.
func WaitUntil(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return Eventually(t, d, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

// spawner is testinstance's goroutine that starts the JVMs, locked to its
// thread for the life of the process (see testinstance/sysproc_linux.go):
// it may start during a test (a broker restarted), and is no leak.
var spawner = goleak.IgnoreTopFunction("github.com/gokafka/kafka/testinstance.startCmd.func1.1")

// NoLeaks fails the test if goroutines started after this call are still
// running once the test and its cleanups are done. Call it first in the
// test: cleanups run last registered first, so its check runs after the
// clusters, producers and members the test opened are closed. (goleak
// retries for a while, so goroutines that are ending do not count.)
//
// A second call in the same test does nothing: the first one's place in the
// cleanup order is the right one (a helper that calls it after the test
// opened a private cluster would check before that cluster closes).
func NoLeaks(t testing.TB) {
	t.Helper()
	if _, dup := leakChecked.LoadOrStore(t, true); dup {
		return
	}
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		leakChecked.Delete(t)
		goleak.VerifyNone(t, before, spawner)
	})
}

// leakChecked holds the tests whose NoLeaks check is registered.
var leakChecked sync.Map
