//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// The producer's own path (cproduce.go's instance), for every producer but
// a transactional one (txn.go drives confluent-kafka-go's transaction
// calls) or one authenticating with OAUTHBEARER (confluent-kafka-go serves
// its token refresh events): Produce calls librdkafka directly with the
// message's index in the records table as its opaque, and the events
// goroutine takes delivery reports an event (a produce request's worth) at
// a time off the instance's main queue.

// ownInstance reports whether the engine creates the producer's librdkafka
// instance itself, from its properties.
func ownInstance(cfg engine.ProducerConfig, m kafka.ConfigMap) bool {
	if cfg.TransactionalID != "" {
		return false
	}
	mech, _ := m["sasl.mechanism"].(string)
	if mech == "" {
		mech, _ = m["sasl.mechanisms"].(string)
	}
	return mech != "OAUTHBEARER"
}

// recordTable is the table of messages in flight on the own path: a message's
// opaque is its index here, so that its report finds it without a map or a
// cgo.Handle. Freed slots are reused.
type recordTable struct {
	mu   sync.Mutex
	recs []record
	free []int64
}

func (t *recordTable) add(r record) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		t.recs[i] = r
		return i
	}
	t.recs = append(t.recs, r)
	return int64(len(t.recs) - 1)
}

// take removes the records of reps (in order) into out, under one lock.
func (t *recordTable) take(reps []cReport, out []record) []record {
	out = out[:0]
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range reps {
		i := int64(r.opaque)
		if i < 0 || i >= int64(len(t.recs)) || t.recs[i].done == nil {
			out = append(out, record{}) // not ours: skipped by the caller
			continue
		}
		out = append(out, t.recs[i])
		t.recs[i] = record{}
		t.free = append(t.free, i)
	}
	return out
}

// drop removes record i (its message was refused).
func (t *recordTable) drop(i int64) {
	t.mu.Lock()
	t.recs[i] = record{}
	t.free = append(t.free, i)
	t.mu.Unlock()
}

// cProduce is Produce's hand-over on the own path; the caller holds the
// message's slot and has entered its generation into r.
func (p *producer) cProduce(ctx context.Context, r record) error {
	m := r.m
	i := p.recs.add(r)
	rkt := p.c.rkt(m.Topic)
	for {
		err := p.c.produce(rkt, m, i)
		if err == nil {
			return nil // the record now belongs to the delivery report
		}
		if errors.Is(mapError(err), kerr.ErrQueueFull) && !p.cfg.FailWhenFull {
			if err = p.waitRoom(ctx); err == nil {
				continue
			}
		} else {
			err = fmt.Errorf("rdkafka: producing to %s/%d: %w", m.Topic, m.Partition, p.produceError(err))
		}
		p.recs.drop(i)
		r.gen.exit(1)
		p.queue.Release(1)
		return err
	}
}

// cEventSlice bounds one wait on the main queue when nothing comes; Close
// wakes a wait at once anyway (rd_kafka_queue_yield).
const cEventSlice = 100

// cEvents is the events goroutine of the own path: delivery reports, a
// whole event at a time, client errors, statistics and logs. It ends when
// stopEvents is closed and the queue has nothing more.
func (p *producer) cEvents() {
	defer p.wg.Done()
	var s settled
	defer s.settle(p)
	var buf []cReport
	var recs []record
	for {
		ev, nb, ok := p.c.poll(cEventSlice, buf)
		buf = nb
		if !ok {
			s.settle(p)
			select {
			case <-p.stopEvents:
				return
			default:
			}
			continue
		}
		switch {
		case ev.reports != nil:
			recs = p.recs.take(ev.reports, recs)
			for j, rep := range ev.reports {
				if recs[j].done != nil {
					p.cDeliver(rep, recs[j], &s)
				}
				if s.n >= maxSettle {
					s.settle(p)
				}
			}
			clear(recs) // no message stays reachable from here
			s.settle(p)
		case ev.err != nil:
			var ke kafka.Error
			if errors.As(ev.err, &ke) {
				p.clientError(ke)
			}
		case ev.log != nil:
			forwardLog(p.log, *ev.log)
		case ev.stats != "":
			p.windows(ev.stats)
		}
	}
}

// cDeliver reports one message's outcome to its DoneFunc.
func (p *producer) cDeliver(rep cReport, r record, s *settled) {
	m := r.m
	var err error
	if rep.err != 0 {
		ke := kafka.NewError(kafka.ErrorCode(rep.err), kafka.ErrorCode(rep.err).String(), false)
		err = fmt.Errorf("rdkafka: producing to %s/%d: %w", m.Topic, m.Partition, p.auth.explain(p.reportError(ke)))
		m.Offset = -1
	} else {
		p.auth.ok()
		m.Partition = int32(rep.partition)
		m.Offset = int64(rep.offset)
		if m.Offset < 0 { // acks=0: librdkafka reports OffsetInvalid
			m.Offset = -1
		}
	}
	r.done(m, err)
	s.add(r.gen)
}
