package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gokafka/kafka"
)

// record is one message read: where it was, what its value named, when it
// was handed out. Values are parsed, not kept, so that a long reading does
// not pin fetch buffers.
type record struct {
	offset int64
	part   int32 // partition the value names
	seq    int
	ok     bool // the value parsed
	at     time.Time
}

// reader consumes a topic on a goroutine of its own and records every
// message in the order Consume handed it out.
type reader struct {
	c      *kafka.SimpleConsumer
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	got      map[int32][]record
	n        int
	errs     int
	firstErr error
}

// maxConsumeErrors stops a reader whose Consume keeps failing, rather than
// spinning.
const maxConsumeErrors = 1000

// startReader creates a SimpleConsumer with cfg and starts reading. ctx
// bounds the reading as a whole; close stops it.
func startReader(ctx context.Context, topic *kafka.Topic, cfg kafka.ConsumerConfig) (*reader, error) {
	c, err := topic.NewSimpleConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &reader{c: c, cancel: cancel, done: make(chan struct{}), got: map[int32][]record{}}
	go r.loop(rctx)
	return r, nil
}

func (r *reader) loop(ctx context.Context) {
	defer close(r.done)
	for {
		m, err := r.c.Consume(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrClosed) {
				return
			}
			r.mu.Lock()
			r.errs++
			if r.firstErr == nil {
				r.firstErr = err
			}
			stop := r.errs >= maxConsumeErrors
			r.mu.Unlock()
			if stop {
				return
			}
			continue
		}
		part, seq, ok := parseValue(m.Value)
		rec := record{offset: m.Offset, part: part, seq: seq, ok: ok, at: time.Now()}
		r.mu.Lock()
		r.got[m.Partition] = append(r.got[m.Partition], rec)
		r.n++
		r.mu.Unlock()
	}
}

// count is the number of messages read so far.
func (r *reader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// caughtUp reports whether every partition was read up to its high
// watermark in hw.
func (r *reader) caughtUp(hw map[int32]int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, end := range hw {
		recs := r.got[p]
		if end > 0 && (len(recs) == 0 || recs[len(recs)-1].offset < end-1) {
			return false
		}
	}
	return true
}

// scan calls f on the records of partition p from index i on, and returns
// the index after the last one seen; f returning false stops early.
func (r *reader) scan(p int32, i int, f func(record) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	recs := r.got[p]
	for ; i < len(recs); i++ {
		if !f(recs[i]) {
			return i
		}
	}
	return i
}

// close stops reading and closes the consumer; the records stay.
func (r *reader) close(ctx context.Context) error {
	r.cancel()
	<-r.done
	return r.c.Close(ctx)
}

// records returns what was read; call after close.
func (r *reader) records() map[int32][]record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

// consumeErrors describes the errors Consume returned, if any.
func (r *reader) consumeErrors() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errs, r.firstErr
}

// readBack reads the whole topic with a pure-Go consumer, up to the high
// watermarks at the time of the call, which it also returns.
func readBack(ctx context.Context, topic *kafka.Topic) (map[int32][]record, map[int32]int64, error) {
	hw, err := topic.LatestOffsets(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("high watermarks of %s: %w", topic.Name(), err)
	}
	r, err := startReader(ctx, topic, kafka.ConsumerConfig{})
	if err != nil {
		return nil, nil, err
	}
	werr := waitUntil(ctx, 3*time.Minute, "reading "+topic.Name()+" back", func() bool { return r.caughtUp(hw) })
	cerr := r.close(ctx)
	if n, first := r.consumeErrors(); n > 0 && werr != nil {
		werr = fmt.Errorf("%w (%d consume errors, first: %w)", werr, n, first)
	}
	return r.records(), hw, errors.Join(werr, cerr)
}
