package workload

import (
	"context"
	"encoding/binary"
	"fmt"
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
	// E2E is the end-to-end latency (Spec.E2E): from just before the
	// produce call to the moment a consumer in the same process, reading
	// the run's topics with the same library, handed the message to the
	// program. Nil without -e2e.
	E2E *E2EResult `json:"e2e,omitempty"`
}

// E2EResult is a latency run's end-to-end figures, in nanoseconds.
type E2EResult struct {
	Messages int64  `json:"messages"` // how many the consumer read in time
	P50      int64  `json:"p50_ns"`
	P99      int64  `json:"p99_ns"`
	P999     int64  `json:"p999_ns"`
	Max      int64  `json:"max_ns"`
	Err      string `json:"error,omitempty"` // why the consumer stopped short, if it did
}

// e2e records, per message index, the end-to-end latency a consumer saw
// (0: not read yet).
type e2e struct {
	lat []int64
}

// ConsumedValue is Consumed for a consumer that has the value at hand:
// in an end-to-end run (Spec.E2E) it also records the message's latency
// from the stamp that the producer side put in it.
func (t *Tally) ConsumedValue(topic string, partition int32, value []byte) {
	if t.e2e != nil && len(value) >= stampBytes {
		now := int64(time.Since(epoch))
		sent := int64(binary.LittleEndian.Uint64(value))
		if i := binary.LittleEndian.Uint64(value[8:]); i < uint64(len(t.e2e.lat)) {
			t.e2e.lat[i] = max(now-sent, 1)
		}
	}
	t.Consumed(topic, partition, len(value))
}

// result computes the end-to-end figures of what was read.
func (e *e2e) result() *E2EResult {
	var all []int64
	for _, v := range e.lat {
		if v > 0 {
			all = append(all, v)
		}
	}
	r := &E2EResult{Messages: int64(len(all))}
	if len(all) == 0 {
		return r
	}
	slices.Sort(all)
	r.P50, r.P99, r.P999, r.Max = pct(all, 0.50), pct(all, 0.99), pct(all, 0.999), all[len(all)-1]
	return r
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

// e2eReader is the consumer of an end-to-end latency run, reading the
// run's topics from their start while the producer loop writes them.
type e2eReader struct {
	t      *Tally
	cancel context.CancelFunc
	done   chan error
}

// e2eGrace is how long the consumer may take, after the producer loop has
// its last acknowledgement, to read the rest.
const e2eGrace = 30 * time.Second

func startE2E(ctx context.Context, c Client, s Spec) *e2eReader {
	cs := s
	cs.Mode, cs.Expected, cs.Group = "consume", nil, false
	t := newTally(cs)
	t.e2e = &e2e{lat: make([]int64, s.Count)}
	rctx, cancel := context.WithCancel(ctx)
	r := &e2eReader{t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Consume(rctx, cs, t) }()
	return r
}

// wait waits for the consumer to read everything (at most e2eGrace) and
// returns its figures.
func (r *e2eReader) wait() *E2EResult {
	var err error
	select {
	case err = <-r.done:
	case <-time.After(e2eGrace):
		r.cancel()
		err = fmt.Errorf("the consumer had not read every message %v after the last acknowledgement", e2eGrace)
		<-r.done
	}
	r.cancel()
	res := r.t.e2e.result()
	if err != nil {
		res.Err = err.Error()
	}
	return res
}
