package faultsuite

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gokafka/kafka"
)

// entry is one message a scenario produced, and what became of it.
type entry struct {
	part     int32
	seq      int       // its rank among the partition's messages, in Produce order
	produced time.Time // when Produce was called
	acked    time.Time // zero until acknowledged
	offset   int64     // as reported
	err      error     // why it failed, if it did
	reports  int
	rejected bool // Produce refused it: never sent, never reported
}

// ledger records every message produced to one topic and its report, and
// checks a reading of the topic against them.
type ledger struct {
	mu          sync.Mutex
	parts       [][]*entry
	ackTimes    []time.Time // every acknowledgement, in time order
	firstErr    error
	rejects     int
	firstReject error
}

func newLedger(partitions int32) *ledger {
	return &ledger{parts: make([][]*entry, partitions)}
}

// add registers the next message of partition part.
func (l *ledger) add(part int32) *entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := &entry{part: part, seq: len(l.parts[part]), produced: time.Now(), offset: -1}
	l.parts[part] = append(l.parts[part], e)
	return e
}

// value is e's message value: "part:seq:" and padding up to size bytes.
func value(e *entry, size int) []byte {
	b := strconv.AppendInt(nil, int64(e.part), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(e.seq), 10)
	b = append(b, ':')
	for len(b) < size {
		b = append(b, 'x')
	}
	return b
}

// parseValue reads back what value wrote.
func parseValue(v []byte) (part int32, seq int, ok bool) {
	a, rest, ok1 := bytes.Cut(v, []byte{':'})
	s, _, ok2 := bytes.Cut(rest, []byte{':'})
	p, err1 := strconv.Atoi(string(a))
	q, err2 := strconv.Atoi(string(s))
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return int32(p), q, true
}

// report records e's delivery report.
func (l *ledger) report(e *entry, offset int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now() // under the lock: ackTimes stays sorted
	e.reports++
	if e.reports > 1 {
		return
	}
	if err == nil {
		e.acked, e.offset = now, offset
		l.ackTimes = append(l.ackTimes, now)
		return
	}
	e.err = err
	if l.firstErr == nil {
		l.firstErr = err
	}
}

// reject records that Produce refused e.
func (l *ledger) reject(e *entry, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.rejected = true
	l.rejects++
	if l.firstReject == nil {
		l.firstReject = err
	}
}

// ackedCount is the number of messages acknowledged so far.
func (l *ledger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ackTimes)
}

// firstAckAfter is the earliest acknowledgement of a message of part
// produced after t, if there is one yet.
func (l *ledger) firstAckAfter(part int32, t time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	es := l.parts[part]
	for i := len(es) - 1; i >= 0 && es[i].produced.After(t); i-- {
		if a := es[i].acked; !a.IsZero() && (first.IsZero() || a.Before(first)) {
			first = a
		}
	}
	return first, !first.IsZero()
}

// ackedSince counts the acknowledgements after t.
func (l *ledger) ackedSince(t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.ackTimes, t, func(a, t time.Time) int { return a.Compare(t) })
	return len(l.ackTimes) - i
}

// ackedAt is when the message part:seq was acknowledged (zero if it was
// not, or is unknown).
func (l *ledger) ackedAt(part int32, seq int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.lookup(part, seq); e != nil {
		return e.acked
	}
	return time.Time{}
}

// ackDelays lists, for the messages produced after t and acknowledged, the
// time from Produce to the acknowledgement.
func (l *ledger) ackDelays(t time.Time) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, es := range l.parts {
		for i := len(es) - 1; i >= 0 && es[i].produced.After(t); i-- {
			if !es[i].acked.IsZero() {
				out = append(out, es[i].acked.Sub(es[i].produced))
			}
		}
	}
	return out
}

// reportedCount is the number of messages reported so far.
func (l *ledger) reportedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, es := range l.parts {
		for _, e := range es {
			if e.reports > 0 {
				n++
			}
		}
	}
	return n
}

// lookup finds the entry a record's value names, or nil.
func (l *ledger) lookup(part int32, seq int) *entry {
	if part < 0 || int(part) >= len(l.parts) || seq < 0 || seq >= len(l.parts[part]) {
		return nil
	}
	return l.parts[part][seq]
}

// producerTally counts the producer's side: sent, acknowledged, failed.
func (l *ledger) producerTally() Tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t Tally
	for _, es := range l.parts {
		for _, e := range es {
			if e.rejected {
				continue
			}
			t.Sent++
			switch {
			case e.reports == 0:
				t.Unreported++
			case e.err != nil:
				t.Failed++
			default:
				t.Acked++
			}
			if e.reports > 1 {
				t.DoubleReports += e.reports - 1
			}
		}
	}
	return t
}

// readTally checks a reading of the topic (records per partition, in the
// order read) against the ledger: every acknowledged message read exactly
// once, at its reported offset, in produce order; every offset below the
// high watermark read exactly once.
func (l *ledger) readTally(read map[int32][]record, hw map[int32]int64) Tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	var t Tally
	seen := map[*entry]int{}
	for p, recs := range read {
		next := int64(0)
		lastSeq := -1
		for _, r := range recs {
			t.Read++
			switch {
			case r.offset > next:
				t.Gaps += int(r.offset - next)
				next = r.offset + 1
			case r.offset < next:
				t.Redelivered++
			default:
				next++
			}
			e := l.lookup(r.part, r.seq)
			if !r.ok || e == nil || r.part != p {
				t.Foreign++
				continue
			}
			seen[e]++
			if seen[e] > 1 || e.acked.IsZero() {
				continue
			}
			if e.offset != r.offset {
				t.Mismatched++
			}
			if e.seq < lastSeq {
				t.Reordered++
			} else {
				lastSeq = e.seq
			}
		}
		if hw[p] > next {
			t.Gaps += int(hw[p] - next)
		}
	}
	for _, es := range l.parts {
		for _, e := range es {
			n := seen[e]
			switch {
			case !e.acked.IsZero() && n == 0:
				t.Lost++
			case !e.acked.IsZero():
				t.Duplicated += n - 1
			case n > 0:
				t.FailedButWritten++
			}
		}
	}
	return t
}

// maxLag is the longest an acknowledged message, acknowledged after from,
// waited between its acknowledgement and its first reading: how long the
// consumer left available data unread. n is how many messages it covers.
func (l *ledger) maxLag(read map[int32][]record, from time.Time) (lag time.Duration, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[*entry]bool{}
	for _, recs := range read {
		for _, r := range recs {
			e := l.lookup(r.part, r.seq)
			if e == nil || seen[e] || !e.acked.After(from) {
				continue
			}
			seen[e] = true
			n++
			lag = max(lag, r.at.Sub(e.acked))
		}
	}
	return lag, n
}

// failureKinds counts the failed messages by error class.
func (l *ledger) failureKinds() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, es := range l.parts {
		for _, e := range es {
			if e.err != nil {
				out[errorClass(e.err)]++
			}
		}
	}
	return out
}

// errorClass names the gokafka sentinel an error matches.
func errorClass(err error) string {
	for _, c := range []struct {
		name string
		err  error
	}{
		{"ErrDeliveryTimeout", kafka.ErrDeliveryTimeout},
		{"ErrRequestTimeout", kafka.ErrRequestTimeout},
		{"ErrConnection", kafka.ErrConnection},
		{"ErrClosed", kafka.ErrClosed},
		{"ErrNotEnoughReplicas", kafka.ErrNotEnoughReplicas},
		{"ErrNotLeaderOrFollower", kafka.ErrNotLeaderOrFollower},
		{"context.DeadlineExceeded", context.DeadlineExceeded},
		{"context.Canceled", context.Canceled},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	var be *kafka.BrokerError
	if errors.As(err, &be) {
		return "broker " + be.Error()
	}
	return "other: " + err.Error()
}

// production is a producer writing paced messages to every partition of a
// topic, one goroutine per partition so that each partition's messages are
// produced in order.
type production struct {
	p        *kafka.Producer
	led      *ledger
	stop     chan struct{}
	haltOnce sync.Once
	wg       sync.WaitGroup
}

// pace is how fast a production goes: burst messages per partition every
// tick. Sync producers send one message at a time and ignore burst.
type pace struct {
	burst int
	every time.Duration
	size  int // value bytes
}

// produceInto starts producing to every partition of topic with cfg
// (Partitioner, and OnDelivery for asynchronous producers, are set here).
// Stop ends it.
func produceInto(ctx context.Context, topic *kafka.Topic, cfg kafka.ProducerConfig, led *ledger, pc pace) (*production, error) {
	cfg.Partitioner = func(m *kafka.Message, _ int32) int32 { return m.Opaque.(*entry).part }
	if !cfg.Sync {
		cfg.OnDelivery = func(r kafka.DeliveryReport) {
			led.report(r.Message.Opaque.(*entry), r.Message.Offset, r.Err)
		}
	}
	p, err := topic.NewProducer(cfg)
	if err != nil {
		return nil, err
	}
	pr := &production{p: p, led: led, stop: make(chan struct{})}
	for part := range int32(len(led.parts)) {
		pr.wg.Add(1)
		go func() {
			defer pr.wg.Done()
			pr.run(ctx, part, cfg.Sync, pc)
		}()
	}
	return pr, nil
}

func (pr *production) run(ctx context.Context, part int32, sync bool, pc pace) {
	tick := time.NewTicker(pc.every)
	defer tick.Stop()
	for {
		if !sync {
			select {
			case <-pr.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		} else {
			select {
			case <-pr.stop:
				return
			case <-ctx.Done():
				return
			default:
			}
		}
		n := pc.burst
		if sync {
			n = 1
		}
		for range n {
			e := pr.led.add(part)
			m := &kafka.Message{Value: value(e, pc.size), Opaque: e}
			err := pr.p.ProduceMessage(ctx, m)
			switch {
			case sync:
				pr.led.report(e, m.Offset, err)
			case err != nil:
				pr.led.reject(e, err)
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// Stop stops producing and closes the producer, which waits (within ctx)
// until every message is reported.
func (pr *production) Stop(ctx context.Context) error {
	pr.halt()
	return pr.p.Close(ctx)
}

// halt stops producing without closing the producer. Idempotent.
func (pr *production) halt() {
	pr.haltOnce.Do(func() { close(pr.stop) })
	pr.wg.Wait()
}
