package faultsuite

import (
	"context"
	"time"
)

// resumption is how long after a fault the traffic came back: the
// producer acknowledging a message produced after it, and each reader
// reading a message acknowledged after it, on every partition watched.
// A zero duration means "not within the wait".
type resumption struct {
	producer  time.Duration
	consumers []time.Duration
	err       error // the wait ended before everything resumed
}

// awaitResumption watches parts from time from until the producer and
// every reader resumed on each of them, or wait passes.
func awaitResumption(ctx context.Context, led *ledger, readers []*reader, parts []int32, from time.Time, wait time.Duration) resumption {
	prodSeen := map[int32]time.Time{}
	idx := make([]map[int32]int, len(readers))
	seen := make([]map[int32]time.Time, len(readers))
	for i := range readers {
		idx[i], seen[i] = map[int32]int{}, map[int32]time.Time{}
	}
	err := waitUntil(ctx, wait, "traffic after the fault", func() bool {
		done := true
		for _, p := range parts {
			if _, ok := prodSeen[p]; ok {
				continue
			}
			if at, ok := led.firstAckAfter(p, from); ok {
				prodSeen[p] = at
			} else {
				done = false
			}
		}
		for i, r := range readers {
			for _, p := range parts {
				if _, ok := seen[i][p]; ok {
					continue
				}
				idx[i][p] = r.scan(p, idx[i][p], func(rec record) bool {
					if led.ackedAt(rec.part, rec.seq).After(from) {
						seen[i][p] = rec.at
						return false
					}
					return true
				})
				if _, ok := seen[i][p]; !ok {
					done = false
				}
			}
		}
		return done
	})
	res := resumption{err: err, consumers: make([]time.Duration, len(readers))}
	if at := latestOf(prodSeen, parts); !at.IsZero() {
		res.producer = max(at.Sub(from), time.Nanosecond)
	}
	for i := range readers {
		if at := latestOf(seen[i], parts); !at.IsZero() {
			res.consumers[i] = max(at.Sub(from), time.Nanosecond)
		}
	}
	return res
}

// latestOf is the latest of the times of the given keys, or zero if one is
// missing.
func latestOf(seen map[int32]time.Time, keys []int32) time.Time {
	var latest time.Time
	for _, k := range keys {
		at, ok := seen[k]
		if !ok {
			return time.Time{}
		}
		if at.After(latest) {
			latest = at
		}
	}
	return latest
}
