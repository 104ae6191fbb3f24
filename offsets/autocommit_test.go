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
	m  map[TopicPartition]Commit
}

func (p *positions) set(tp TopicPartition, c Commit) {
	p.mu.Lock()
	p.m[tp] = c
	p.mu.Unlock()
}

func (p *positions) drop(tp TopicPartition) {
	p.mu.Lock()
	delete(p.m, tp)
	p.mu.Unlock()
}

func (p *positions) snapshot() map[TopicPartition]Commit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.m)
}

func TestAutoCommit(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	g := newGroup(t, cl)
	pos := &positions{m: on(topic, map[int32]Commit{0: At(-1), 1: At(-1)})} // nothing consumed yet
	var errMu sync.Mutex
	var errs []error
	a := StartAutoCommit(g, 50*time.Millisecond, pos.snapshot, nil, func(err error) {
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
			got, err := g.Fetch(testhelp.Ctx(t, 10*time.Second), tps(topic, 0, 1))
			if err != nil {
				return err
			}
			if want := on(topic, want); !maps.Equal(got, want) {
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

	pos.set(part(topic, 0), Commit{Offset: 10, LeaderEpoch: 0, Metadata: "auto"})
	testhelp.Eventually(t, 10*time.Second, "first auto-commit", fetch(map[int32]Commit{0: {Offset: 10, LeaderEpoch: 0, Metadata: "auto"}}))
	pos.set(part(topic, 0), At(12))
	pos.set(part(topic, 1), At(3))
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
	pos.set(part(topic, 1), At(99))
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
	pos := &positions{m: on(topic, map[int32]Commit{0: At(5)})}
	a := StartAutoCommit(g, time.Hour, pos.snapshot, func() Generation { return Generation{} }, nil)
	if err := a.Stop(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	got, err := g.Fetch(testhelp.Ctx(t, 10*time.Second), tps(topic, 0))
	if err != nil || got[part(topic, 0)] != At(5) {
		t.Fatalf("Fetch after Stop = %v, %v; want 5", got, err)
	}
}

// TestAutoCommitReportsErrors: a commit the broker refuses goes to onError,
// and the final commit's error comes back from Stop.
func TestAutoCommitReportsErrors(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	g := newGroup(t, cl)
	pos := &positions{m: on(topic, map[int32]Commit{0: At(5)})}
	bad := Generation{ID: 7, MemberID: "nobody"} // the group has no such member
	got := make(chan error, 100)
	a := StartAutoCommit(g, 20*time.Millisecond, pos.snapshot, func() Generation { return bad }, func(err error) {
		select {
		case got <- err:
		default:
		}
	})
	select {
	case err := <-got:
		if kerr.IsRetriable(err) || Partitions(err)[part(topic, 0)] == nil {
			t.Fatalf("onError got %v, want a partition 0 rejection", err)
		}
		t.Logf("onError: %v", err)
	case <-testhelp.Ctx(t, 20*time.Second).Done():
		t.Fatal("onError never called")
	}
	if err := a.Stop(testhelp.Ctx(t, 30*time.Second)); err == nil || Partitions(err)[part(topic, 0)] == nil {
		t.Fatalf("Stop: err = %v, want the final commit's rejection", err)
	}
}

func TestStartAutoCommitValidates(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	g := newGroup(t, cl)
	pos := func() map[TopicPartition]Commit { return nil }
	for name, c := range map[string]struct {
		g        *Group
		interval time.Duration
		pos      func() map[TopicPartition]Commit
		want     error
	}{
		"nil group":     {nil, time.Second, pos, kerr.ErrInvalidConfig},
		"nil positions": {g, time.Second, nil, kerr.ErrInvalidConfig},
		"zero interval": {g, 0, pos, kerr.ErrInvalidConfig},
	} {
		var reported error
		a := StartAutoCommit(c.g, c.interval, c.pos, nil, func(err error) { reported = err })
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
	// A topic is no longer an argument: an empty topic name in a snapshot
	// fails that partition's commit.
	a := StartAutoCommit(g, time.Hour, func() map[TopicPartition]Commit { return map[TopicPartition]Commit{part("", 0): At(1)} }, nil, nil)
	if err := a.Stop(testhelp.Ctx(t, 10*time.Second)); !errors.Is(err, kerr.ErrInvalidTopic) || Partitions(err)[part("", 0)] == nil {
		t.Errorf("empty topic in the positions: Stop = %v, want kerr.ErrInvalidTopic for /0", err)
	}
	// Without onError (and without a group to log to) it must not panic.
	if err := StartAutoCommit(nil, time.Second, pos, nil, nil).Stop(testhelp.Ctx(t, time.Second)); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("nil group, nil onError: Stop = %v", err)
	}
}

// TestAutoCommitTopics: one committer covers the partitions of several
// topics, each commit one request; a partition the consumer gives up is
// forgotten, so that its position, should it come back, is committed again.
func TestAutoCommitTopics(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	a1, b1 := testhelp.CreateTopic(t, nil, 2), testhelp.CreateTopic(t, nil, 1)
	g := newGroup(t, cl)
	pos := &positions{m: map[TopicPartition]Commit{part(a1, 0): At(4), part(a1, 1): At(-1), part(b1, 0): At(7)}}
	a := StartAutoCommit(g, 20*time.Millisecond, pos.snapshot, nil, func(err error) { t.Errorf("onError: %v", err) })
	stopped := false
	defer func() {
		if !stopped {
			a.Stop(testhelp.Ctx(t, 10*time.Second))
		}
	}()
	all := []TopicPartition{part(a1, 0), part(a1, 1), part(b1, 0)}
	fetch := func(want map[TopicPartition]Commit) func() error {
		return func() error {
			got, err := g.Fetch(testhelp.Ctx(t, 10*time.Second), all)
			if err != nil {
				return err
			}
			if !maps.Equal(got, want) {
				return fmt.Errorf("committed %v, want %v", got, want)
			}
			return nil
		}
	}
	testhelp.Eventually(t, 10*time.Second, "auto-commit of two topics", fetch(map[TopicPartition]Commit{part(a1, 0): At(4), part(b1, 0): At(7)}))
	if n := a.commits.Load(); n != 1 {
		t.Fatalf("%d commits for one change of two topics, want 1", n)
	}

	// b/0 revoked: forgotten once a tick has passed without it.
	pos.drop(part(b1, 0))
	ticks := a.ticks.Load()
	testhelp.Eventually(t, 5*time.Second, "two ticks", func() error {
		if a.ticks.Load() < ticks+2 {
			return fmt.Errorf("%d ticks so far", a.ticks.Load()-ticks)
		}
		return nil
	})
	n := a.commits.Load()
	if n != 1 {
		t.Fatalf("%d commits after a partition was dropped, want still 1", n)
	}
	// Back at the same position: committed again, for it was forgotten.
	pos.set(part(b1, 0), At(7))
	testhelp.Eventually(t, 5*time.Second, "a commit of the returned partition", func() error {
		if a.commits.Load() == n {
			return fmt.Errorf("no commit yet")
		}
		return nil
	})

	pos.set(part(a1, 1), At(2))
	stopped = true
	if err := a.Stop(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := fetch(map[TopicPartition]Commit{part(a1, 0): At(4), part(a1, 1): At(2), part(b1, 0): At(7)})(); err != nil {
		t.Fatalf("after Stop: %v", err)
	}
}
