package workload

import (
	"context"
	"encoding/binary"
	"slices"
	"time"
)

// Latency runs (-rate N): the producer loop hands messages to the library
// at a fixed rate, N per second, instead of as fast as it can, and each
// message's latency is the time from the moment it was handed over (just
// before the Produce call) to the moment its delivery report reached the
// program. The time goes inside the value: its first 16 bytes are the
// send time (nanoseconds since the process's epoch, monotonic) and the
// message's index, so that the report, which every library hands back with
// the value, carries it back without a map. A latency run copies each value
// to stamp it (a few thousand allocations per second: nothing next to the
// rates that matter here).

// stampBytes is what a stamp takes at the start of a value.
const stampBytes = 16

// LatencyResult is a latency run's figures, in the Result line.
type LatencyResult struct {
	Rate int `json:"rate"` // messages per second asked for
	// AchievedRate is what the loop managed (messages over the time
	// from the first send to the last): below Rate if Produce blocked.
	AchievedRate float64 `json:"achieved_rate"`
	// Percentiles of every message's latency, in nanoseconds.
	P50  int64 `json:"p50_ns"`
	P90  int64 `json:"p90_ns"`
	P99  int64 `json:"p99_ns"`
	P999 int64 `json:"p999_ns"`
	Max  int64 `json:"max_ns"`
	// SteadyP99 is the p99 of the messages sent after the first second
	// (connections, metadata and producer id are then in place).
	SteadyP99 int64 `json:"steady_p99_ns"`
	// Worst are the slowest messages: when each was sent (ns after the
	// first) and its latency, for telling a start-up tail from a steady
	// one.
	Worst [][2]int64 `json:"worst,omitempty"`
}

// latency is a Tally's record of a latency run.
type latency struct {
	sent  []int64 // per message: send time, ns since epoch
	lat   []int64 // per message: latency in ns; 0 until reported
	first int64   // send time of message 0
}

// Rated reports whether this is a latency run.
func (s Spec) Rated() bool { return s.Rate > 0 }

// Value returns the value of message i for a produce loop. In a latency run
// it first waits for the message's turn (i/Rate seconds after the first)
// and returns a stamped copy; otherwise it is s.Value(i), at no cost.
func (t *Tally) Value(ctx context.Context, i int64) []byte {
	v := t.spec.Value(i)
	if !t.spec.Rated() {
		return v
	}
	l := t.lat
	if i == 0 {
		l.first = int64(time.Since(epoch))
	} else {
		due := l.first + i*int64(time.Second)/int64(t.spec.Rate)
		if d := time.Duration(due - int64(time.Since(epoch))); d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
			}
		}
	}
	c := make([]byte, len(v))
	copy(c, v)
	now := int64(time.Since(epoch))
	if int(i) < len(l.sent) {
		l.sent[i] = now
	}
	binary.LittleEndian.PutUint64(c, uint64(now))
	binary.LittleEndian.PutUint64(c[8:], uint64(i))
	return c
}

// AckedValue records a delivered message of topic whose value the library
// handed back: Acked, plus the message's latency in a latency run.
func (t *Tally) AckedValue(topic string, partition int32, value []byte) {
	if t.spec.Rated() && len(value) >= stampBytes {
		now := int64(time.Since(epoch))
		sent := int64(binary.LittleEndian.Uint64(value))
		i := binary.LittleEndian.Uint64(value[8:])
		if i < uint64(len(t.lat.lat)) {
			t.lat.lat[i] = max(now-sent, 1)
		}
	}
	t.record(topic, partition, len(value))
}

// result computes the figures of a latency run, from the messages that
// were reported.
func (l *latency) result(rate int) *LatencyResult {
	var all, steady []int64
	type worst struct{ at, lat int64 }
	var ws []worst
	last := l.first
	for i, v := range l.lat {
		if v == 0 {
			continue
		}
		all = append(all, v)
		at := l.sent[i] - l.first
		last = max(last, l.sent[i])
		if at >= int64(time.Second) {
			steady = append(steady, v)
		}
		ws = append(ws, worst{at, v})
	}
	if len(all) == 0 {
		return nil
	}
	slices.Sort(all)
	slices.Sort(steady)
	r := &LatencyResult{
		Rate: rate,
		P50:  pct(all, 0.50), P90: pct(all, 0.90), P99: pct(all, 0.99), P999: pct(all, 0.999),
		Max: all[len(all)-1], SteadyP99: pct(steady, 0.99),
	}
	if span := last - l.first; span > 0 {
		r.AchievedRate = float64(len(l.lat)-1) / (float64(span) / float64(time.Second))
	}
	slices.SortFunc(ws, func(a, b worst) int { return int(b.lat - a.lat) })
	for _, w := range ws[:min(10, len(ws))] {
		r.Worst = append(r.Worst, [2]int64{w.at, w.lat})
	}
	return r
}

// pct is the q-quantile of sorted values (nearest rank).
func pct(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
