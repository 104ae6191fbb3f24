package offsets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
)

// DefaultTimeout bounds a Coordinator, Commit, Fetch, FetchAll or List call
// whose context has no deadline, so that context.Background() cannot wait
// forever on a cluster that never recovers. It is Java's
// default.api.timeout.ms.
const DefaultTimeout = 60 * time.Second

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
		return !cl.IsClosing()
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
