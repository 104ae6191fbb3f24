package offsets

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
)

// AutoCommitter commits a consumer's positions in the background: every
// interval it takes a snapshot of the positions, of any topics, and commits
// the partitions whose position changed since the last successful commit, in
// one Group.Commit. Stop makes a final commit.
//
// It owns one goroutine, started by StartAutoCommit and ended by Stop.
type AutoCommitter struct {
	g         *Group
	interval  time.Duration
	positions func() map[TopicPartition]Commit
	gen       func() Generation
	onError   func(error)

	cancel context.CancelFunc // ends the loop and its commit in flight
	done   chan struct{}      // closed when the loop has returned

	// committed is what the broker last acknowledged, per partition still
	// in the positions (a partition the consumer gave up is dropped, so
	// that the map stays bounded as assignments change). The loop owns
	// it; Stop takes it over, under mu, once the loop has returned.
	committed map[TopicPartition]Commit
	mu        sync.Mutex
	stopped   bool         // the final commit succeeded
	bad       error        // invalid arguments: nothing started
	commits   atomic.Int64 // Group.commit calls made, for tests
	ticks     atomic.Int64 // intervals handled, for tests
}

// StartAutoCommit starts committing a consumer's positions for g every
// interval.
//
// positions returns a snapshot of the offsets to commit, of any number of
// partitions of any topics, each the next offset to read (last consumed +
// 1); partitions with a negative Offset (nothing consumed yet) are left
// alone. gen returns the membership to commit under: pass nil for simple
// commits (the zero Generation). Both are called from the committer's
// goroutine, so they must be safe to call concurrently with the consumer
// that changes the positions, and positions must return a copy that the
// consumer no longer writes to (the committer reads it while the consumer
// moves on).
//
// A commit that fails is reported to onError (nil: logged at warning level to
// the cluster's logger) and tried again at the next interval, from a fresh
// snapshot. A commit in flight may take until GroupOptions.Timeout; ticks
// that fall meanwhile are skipped.
//
// Bad arguments (a nil group or positions function, an interval <= 0) start
// nothing: the AutoCommitter is born stopped and Stop returns the error
// (kerr.ErrInvalidConfig), which is also reported to onError at once. A
// partition with an empty topic name in a snapshot fails its commit with
// kerr.ErrInvalidTopic, reported like any failed commit.
func StartAutoCommit(g *Group, interval time.Duration, positions func() map[TopicPartition]Commit, gen func() Generation, onError func(error)) *AutoCommitter {
	var bad error
	switch {
	case g == nil:
		bad = kerr.Config("group", "nil *offsets.Group")
	case positions == nil:
		bad = kerr.Config("positions", "nil function")
	case interval <= 0:
		bad = kerr.Config("interval", "%v is not a positive duration", interval)
	}
	if gen == nil {
		gen = func() Generation { return Generation{} }
	}
	if onError == nil && g != nil {
		onError = func(err error) {
			g.cl.Logger().Warn("offsets: auto-commit failed", "group", g.id, "err", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &AutoCommitter{
		g: g, interval: interval, positions: positions, gen: gen, onError: onError,
		cancel: cancel, done: make(chan struct{}), committed: map[TopicPartition]Commit{},
	}
	if bad != nil {
		cancel()
		close(a.done)
		a.bad = bad
		if onError != nil {
			onError(bad)
		}
		return a
	}
	go a.loop(ctx)
	return a
}

func (a *AutoCommitter) loop(ctx context.Context) {
	defer close(a.done)
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.commitChanged(ctx); err != nil && ctx.Err() == nil {
			// A failure caused by Stop cancelling us is not news.
			a.onError(err)
		}
		a.ticks.Add(1)
	}
}

// commitChanged commits the partitions whose position differs from the last
// successful commit.
func (a *AutoCommitter) commitChanged(ctx context.Context) error {
	pos := a.positions()
	// Forget partitions the consumer no longer has: should one come back,
	// its position is committed again (harmless) rather than remembered
	// forever.
	for tp := range a.committed {
		if _, ok := pos[tp]; !ok {
			delete(a.committed, tp)
		}
	}
	changed := map[TopicPartition]Commit{}
	for tp, c := range pos {
		if c.Offset < 0 {
			continue
		}
		if last, ok := a.committed[tp]; !ok || last != c {
			changed[tp] = c
		}
	}
	if len(changed) == 0 {
		return nil
	}
	a.commits.Add(1)
	failed := a.g.commit(ctx, changed, a.gen())
	for tp, c := range changed {
		if _, bad := failed[tp]; !bad {
			a.committed[tp] = c
		}
	}
	return joinPartitionErrors("commit", a.g.id, failed)
}

// Stop ends the background commits, then commits the positions that changed
// since the last commit, under ctx, and returns that final commit's error.
// The consumer should stop moving its positions first. A commit in flight is
// cancelled rather than waited for.
//
// If ctx ends before the goroutine has returned, Stop returns ctx's error
// without the final commit (the goroutine, already cancelled, ends on its
// own); calling Stop again then finishes the job. Once a final commit has
// succeeded, Stop returns nil at once. Stop of an AutoCommitter started with
// bad arguments returns that error.
func (a *AutoCommitter) Stop(ctx context.Context) error {
	a.cancel()
	select {
	case <-a.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if a.bad != nil {
		return a.bad
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return nil
	}
	err := a.commitChanged(ctx)
	a.stopped = err == nil
	return err
}
