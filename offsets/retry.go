package offsets

import (
	"context"
	"errors"
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
// both the context's error and the last broker error stay errors.Is-able
// (cluster.GaveUp, the one home of the rule).
func gaveUp(ctx context.Context, last error) error { return cluster.GaveUp(ctx, last) }

// failWaiting writes into failed why each key of pending (a partition or a
// topic) fails when the wait before its next attempt ended with serr: the
// cluster closed (serr itself), or ctx ended (gaveUp with the key's last
// error, in last).
func failWaiting[K comparable](ctx context.Context, serr error, pending []K, last, failed map[K]error) {
	for _, k := range pending {
		if errors.Is(serr, kerr.ErrClosed) {
			failed[k] = serr
		} else {
			failed[k] = gaveUp(ctx, last[k])
		}
	}
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
// away on retry (cluster.Retriable: a retriable code, a lost connection, a
// broker dropped from the metadata while the cluster is open), unless it
// was marked permanent here.
func retriable(cl *cluster.Cluster, err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return false
	}
	return cl.Retriable(err)
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
