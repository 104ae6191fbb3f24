package offsets

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// positions is a consumer's positions, safe for concurrent use.
type positions struct {
	mu sync.Mutex
	m  map[int32]Commit
}

func (p *positions) set(part int32, c Commit) {
	p.mu.Lock()
	p.m[part] = c
	p.mu.Unlock()
}

func (p *positions) snapshot() map[int32]Commit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.m)
}

func TestAutoCommit(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	g := newGroup(t, cl)
	pos := &positions{m: map[int32]Commit{0: At(-1), 1: At(-1)}} // nothing consumed yet
	var errMu sync.Mutex
	var errs []error
	a := StartAutoCommit(g, topic, 50*time.Millisecond, pos.snapshot, nil, func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	})
	stopped := false
	defer func() {
		if !stopped {
			a.Stop(testhelp.Ctx(t, 10*time.Second))
		}
	}()
	fetch := func(want map[int32]Commit) func() error {
		return func() error {
			got, err := g.Fetch(testhelp.Ctx(t, 10*time.Second), topic, nil)
			if err != nil {
				return err
			}
			if !maps.Equal(got, want) {
				return fmt.Errorf("committed %v, want %v", got, want)
			}
			return nil
		}
	}

	// Nothing consumed: several intervals pass without a commit.
	testhelp.Eventually(t, 5*time.Second, "ticks", func() error {
		if err := fetch(map[int32]Commit{})(); err != nil {
			return err
		}
		if a.ticks.Load() < 3 {
			return fmt.Errorf("%d ticks so far", a.ticks.Load())
		}
		return nil
	})
	if n := a.commits.Load(); n != 0 {
		t.Fatalf("%d commits with no position set", n)
	}

	pos.set(0, Commit{Offset: 10, LeaderEpoch: 0, Metadata: "auto"})
	testhelp.Eventually(t, 10*time.Second, "first auto-commit", fetch(map[int32]Commit{0: {Offset: 10, LeaderEpoch: 0, Metadata: "auto"}}))
	pos.set(0, At(12))
	pos.set(1, At(3))
	testhelp.Eventually(t, 10*time.Second, "second auto-commit", fetch(map[int32]Commit{0: At(12), 1: At(3)}))

	// Positions unchanged: ticks go by, commits do not.
	n, ticks := a.commits.Load(), a.ticks.Load()
	testhelp.Eventually(t, 5*time.Second, "more ticks", func() error {
		if a.ticks.Load() < ticks+5 {
			return fmt.Errorf("%d ticks so far", a.ticks.Load()-ticks)
		}
		return nil
	})
	if a.commits.Load() != n {
		t.Fatalf("%d commits over unchanged positions", a.commits.Load()-n)
	}

	// The final commit on Stop carries the last move.
	pos.set(1, At(99))
	stopped = true
	if err := a.Stop(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := fetch(map[int32]Commit{0: At(12), 1: At(99)})(); err != nil {
		t.Fatalf("after Stop: %v", err)
	}
	if err := a.Stop(testhelp.Ctx(t, time.Second)); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-a.done:
	default:
		t.Fatal("the goroutine still runs after Stop")
	}
	errMu.Lock()
	defer errMu.Unlock()
	if len(errs) != 0 {
		t.Fatalf("onError called: %v", errs)
	}
}

// TestAutoCommitFinalOnly: with an interval that never ticks in the test,
// Stop alone must commit.
func TestAutoCommitFinalOnly(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	g := newGroup(t, cl)
	pos := &positions{m: map[int32]Commit{0: At(5)}}
	a := StartAutoCommit(g, topic, time.Hour, pos.snapshot, func() Generation { return Generation{} }, nil)
	if err := a.Stop(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	got, err := g.Fetch(testhelp.Ctx(t, 10*time.Second), topic, nil)
	if err != nil || got[0] != At(5) {
		t.Fatalf("Fetch after Stop = %v, %v; want 5", got, err)
	}
}

// TestAutoCommitReportsErrors: a commit the broker refuses goes to onError,
// and the final commit's error comes back from Stop.
func TestAutoCommitReportsErrors(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	g := newGroup(t, cl)
	pos := &positions{m: map[int32]Commit{0: At(5)}}
	bad := Generation{ID: 7, MemberID: "nobody"} // the group has no such member
	got := make(chan error, 100)
	a := StartAutoCommit(g, topic, 20*time.Millisecond, pos.snapshot, func() Generation { return bad }, func(err error) {
		select {
		case got <- err:
		default:
		}
	})
	select {
	case err := <-got:
		if kerr.IsRetriable(err) || Partitions(err)[0] == nil {
			t.Fatalf("onError got %v, want a partition 0 rejection", err)
		}
		t.Logf("onError: %v", err)
	case <-testhelp.Ctx(t, 20*time.Second).Done():
		t.Fatal("onError never called")
	}
	if err := a.Stop(testhelp.Ctx(t, 30*time.Second)); err == nil || Partitions(err)[0] == nil {
		t.Fatalf("Stop: err = %v, want the final commit's rejection", err)
	}
}

func TestStartAutoCommitValidates(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	g := newGroup(t, cl)
	pos := func() map[int32]Commit { return nil }
	for name, c := range map[string]struct {
		g        *Group
		topic    string
		interval time.Duration
		pos      func() map[int32]Commit
		want     error
	}{
		"nil group":     {nil, "t", time.Second, pos, kerr.ErrInvalidConfig},
		"nil positions": {g, "t", time.Second, nil, kerr.ErrInvalidConfig},
		"zero interval": {g, "t", 0, pos, kerr.ErrInvalidConfig},
		"empty topic":   {g, "", time.Second, pos, kerr.ErrInvalidTopic},
	} {
		var reported error
		a := StartAutoCommit(c.g, c.topic, c.interval, c.pos, nil, func(err error) { reported = err })
		if !errors.Is(reported, c.want) {
			t.Errorf("%s: onError got %v, want %v", name, reported, c.want)
		}
		if err := a.Stop(testhelp.Ctx(t, time.Second)); !errors.Is(err, c.want) {
			t.Errorf("%s: Stop = %v, want %v", name, err, c.want)
		}
		select {
		case <-a.done:
		default:
			t.Errorf("%s: a goroutine runs", name)
		}
	}
	// Without onError (and without a group to log to) it must not panic.
	if err := StartAutoCommit(nil, "t", time.Second, pos, nil, nil).Stop(testhelp.Ctx(t, time.Second)); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("nil group, nil onError: Stop = %v", err)
	}
}
