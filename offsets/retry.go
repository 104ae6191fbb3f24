package offsets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
)

// DefaultTimeout bounds a Coordinator, Commit, Fetch or List call whose
// context has no deadline, so that context.Background() cannot wait forever
// on a cluster that never recovers. It is Java's default.api.timeout.ms.
const DefaultTimeout = 60 * time.Second

// PartitionError is why one partition failed in Commit, Fetch or List.
// Those calls return an errors.Join of one *PartitionError per failed
// partition, so errors.Is(err, kerr.IllegalGeneration) tests whether any
// partition failed for that reason, and errors.As finds the first failure.
// Use Partitions to list them all.
type PartitionError struct {
	Op        string // "commit", "fetch" or "list"
	Group     string // the consumer group; empty for List
	Topic     string
	Partition int32
	Err       error
}

func (e *PartitionError) Error() string {
	if e.Group == "" {
		return fmt.Sprintf("kafka: %s offset of %s/%d: %v", e.Op, e.Topic, e.Partition, e.Err)
	}
	return fmt.Sprintf("kafka: %s offset of %s/%d for group %q: %v", e.Op, e.Topic, e.Partition, e.Group, e.Err)
}

func (e *PartitionError) Unwrap() error { return e.Err }

// Partitions returns every *PartitionError inside err (as returned by Commit,
// Fetch or List), keyed by partition. It returns nil for a nil err or one
// that holds no partition error (a bad argument, for example).
func Partitions(err error) map[int32]*PartitionError {
	var out map[int32]*PartitionError
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
		case *PartitionError:
			if out == nil {
				out = map[int32]*PartitionError{}
			}
			out[x.Partition] = x
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// joinPartitionErrors turns a map of per-partition failures into one error,
// partitions in order so that messages are stable.
func joinPartitionErrors(op, group, topic string, failed map[int32]error) error {
	if len(failed) == 0 {
		return nil
	}
	errs := make([]error, 0, len(failed))
	for _, p := range slices.Sorted(maps.Keys(failed)) {
		errs = append(errs, &PartitionError{Op: op, Group: group, Topic: topic, Partition: p, Err: failed[p]})
	}
	return errors.Join(errs...)
}

// gaveUp is the error of a partition still failing retriably when ctx ended:
// both the context's error and the last broker error stay errors.Is-able.
func gaveUp(ctx context.Context, last error) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = ctx.Err()
	}
	if last == nil {
		return cause
	}
	return fmt.Errorf("%w (gave up retrying; last error: %w)", cause, last)
}

// permanentError marks an error that kerr calls retriable but that retrying
// cannot fix in this context.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// closing reports whether the cluster is shutting down.
func closing(cl *cluster.Cluster) bool {
	select {
	case <-cl.Closing():
		return true
	default:
		return false
	}
}

// retriable reports whether a request-level or partition-level error may go
// away on retry. A broker that answers kerr.ErrClosed while the cluster is
// open was dropped from the metadata (it shut down, or moved): the next
// attempt routes elsewhere.
func retriable(cl *cluster.Cluster, err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return false
	}
	if errors.Is(err, kerr.ErrClosed) {
		return !closing(cl)
	}
	return kerr.IsRetriable(err)
}

// withTimeout applies d to a context that has no deadline; d < 0 leaves ctx
// unbounded.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || d < 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// sleep waits for retry number attempt's backoff. It returns an error when
// the wait was cut short by ctx or by the cluster closing.
func sleep(ctx context.Context, cl *cluster.Cluster, attempt int) error {
	return cl.Sleep(ctx, cl.Backoff(attempt))
}

// dedupe returns the distinct partitions of ps in their first order.
func dedupe(ps []int32) []int32 {
	seen := make(map[int32]struct{}, len(ps))
	out := make([]int32, 0, len(ps))
	for _, p := range ps {
		if _, ok := seen[p]; !ok {
			seen[p] = struct{}{}
			out = append(out, p)
		}
	}
	return out
}
