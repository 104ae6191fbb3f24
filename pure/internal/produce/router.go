package produce

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// The router owns the homeless partitions: those whose leader is unknown,
// and those backing off after a failed send. Its goroutine runs while there
// are any. After each partition's backoff, and once the metadata has been
// refreshed since its failure, it homes the partition to its leader's sink
// again, which is how a partition follows its leader from broker to broker.
// Meanwhile it fails batches whose delivery timeout passes.

// homeLocked sends pt to the sink of its leader in snap, if it has one.
// The caller holds pt.mu; pt is homeless. It returns the sink to wake, or
// nil and records why in pt.homeErr.
func (p *Producer) homeLocked(pt *partition, snap *cluster.Snapshot) *sink {
	t, err := snap.Topic(pt.topic)
	if err != nil {
		pt.homeErr = err
		return nil
	}
	pm, err := t.Partition(pt.id)
	if err != nil {
		pt.homeErr = err
		return nil
	}
	if pm.Leader < 0 {
		pt.homeErr = fmt.Errorf("%s/%d: %w", pt.topic, pt.id, kerr.LeaderNotAvailable)
		return nil
	}
	if _, ok := snap.Brokers[pm.Leader]; !ok {
		pt.homeErr = fmt.Errorf("%s/%d: leader %d: %w", pt.topic, pt.id, pm.Leader, kerr.BrokerNotAvailable)
		return nil
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return nil
	}
	s := p.sinks[pm.Leader]
	if s == nil {
		s = newSink(p, pm.Leader)
		p.sinks[pm.Leader] = s
	}
	if i := slices.Index(p.homeless, pt); i >= 0 {
		last := len(p.homeless) - 1
		p.homeless[i] = p.homeless[last]
		p.homeless[last] = nil
		p.homeless = p.homeless[:last]
	}
	p.mu.Unlock()
	pt.sink = s
	pt.homeErr = nil
	s.add(pt)
	return s
}

// unhomeLocked takes pt from its sink and gives it to the router. The
// caller holds pt.mu.
func (p *Producer) unhomeLocked(pt *partition) {
	if pt.sink == nil {
		p.wakeRouter()
		return
	}
	pt.sink.remove(pt)
	pt.sink = nil
	p.mu.Lock()
	p.homeless = append(p.homeless, pt)
	p.mu.Unlock()
	p.wakeRouter()
}

// wakeRouter makes the router look at the homeless partitions now,
// starting it if needed.
func (p *Producer) wakeRouter() {
	select {
	case p.routerWake <- struct{}{}:
	default:
	}
	if !p.routing.Load() && p.routing.CompareAndSwap(false, true) {
		if !p.spawn(p.route) {
			p.routing.Store(false)
		}
	}
}

func (p *Producer) route() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var list []*partition
	var wake []*sink
	var reporters []*partition
	for {
		p.mu.Lock()
		list = append(list[:0], p.homeless...)
		p.mu.Unlock()
		if len(list) == 0 {
			// Exit, unless a partition became homeless meanwhile
			// (its wakeRouter saw us running).
			p.routing.Store(false)
			p.mu.Lock()
			more := len(p.homeless) > 0
			p.mu.Unlock()
			if more && p.routing.CompareAndSwap(false, true) {
				continue
			}
			return
		}

		closing := false
		select {
		case <-p.cl.Closing():
			closing = true // nothing will ever be sent: fail it all
		default:
		}
		now := time.Now()
		snap := p.cl.Snapshot()
		next := now.Add(time.Second) // look at least this often
		refresh := false
		for _, pt := range list {
			pt.mu.Lock()
			if pt.sink != nil {
				pt.mu.Unlock()
				continue
			}
			if p.expireLocked(pt, now) {
				reporters = append(reporters, pt)
			}
			if closing {
				rep := false
				for len(pt.batches) > 0 && !pt.inflight {
					rep = pt.completeLocked(pt.batches[0], fmt.Errorf("%w: %s/%d: the client was closed", kerr.ErrClosed, pt.topic, pt.id), -1, -1) || rep
				}
				if rep {
					reporters = append(reporters, pt)
				}
			}
			// Wait out the backoff, and then for fresher metadata
			// than what led to the failure (at most a second more).
			due := !now.Before(pt.retryAt) &&
				(snap != pt.errSnap || !now.Before(pt.retryAt.Add(time.Second)))
			if due {
				if s := p.homeLocked(pt, snap); s != nil {
					wake = append(wake, s)
				} else {
					pt.tries++
					pt.retryAt = now.Add(p.backoff(pt.tries))
					pt.errSnap = snap
					refresh = true
				}
			}
			if pt.sink == nil {
				next = earliest(next, pt.retryAt)
				if len(pt.batches) > 0 && !pt.inflight {
					next = earliest(next, pt.batches[0].deadline)
				}
			}
			pt.mu.Unlock()
		}
		if refresh {
			p.cl.TriggerRefresh()
		}
		for i, s := range wake {
			s.wake()
			wake[i] = nil
		}
		wake = wake[:0]
		for i, pt := range reporters {
			p.report(pt)
			reporters[i] = nil
		}
		reporters = reporters[:0]
		clear(list)

		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-p.routerWake:
			case <-p.cl.Updated():
			case <-timer.C:
			case <-p.ctx.Done():
				p.routing.Store(false)
				return
			}
			timer.Stop()
		}
	}
}

// backoff is the wait before retry number n (1-based): RetryBackoff,
// doubling up to a second (or RetryBackoff if larger), with jitter so that
// partitions do not retry in lockstep.
func (p *Producer) backoff(n int) time.Duration {
	d := p.cfg.RetryBackoff
	limit := max(time.Second, d)
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d/2+1)
}

// splitLocked replaces the head batch b, which the broker refused as too
// large, by smaller batches holding the same messages, and makes the
// partition's later batches smaller too. The caller holds pt.mu.
func (p *Producer) splitLocked(pt *partition, b *batch) bool {
	limit := b.rb.EncodedSize() / 2
	if limit < records.HeaderSize*2 {
		return false
	}
	if pt.batchBytes == 0 || limit < pt.batchBytes {
		pt.batchBytes = limit
	}
	var out []*batch
	cur := p.newBatch(b.created, limit, len(b.msgs)/2+1)
	for _, pm := range b.msgs {
		m := pm.m
		if cur.rb.NumRecords() > 0 && cur.rb.EncodedSize()+engine.SizeBound(m) > limit {
			cur.sealed = true
			out = append(out, cur)
			cur = p.newBatch(b.created, limit, len(b.msgs)/2+1)
		}
		cur.rb.Append(m.Timestamp.UnixMilli(), m.Key, m.Value, m.Headers)
		cur.msgs = append(cur.msgs, pm)
	}
	cur.sealed = true
	out = append(out, cur)
	for _, nb := range out {
		nb.deadline = b.deadline
		nb.tries = b.tries
	}
	pt.batches = slices.Concat(out, pt.batches[1:])
	p.log.Info("gokafka: batch too large for the broker, split", "topic", pt.topic, "partition", pt.id, "messages", len(b.msgs), "batches", len(out))
	b.msgs = b.msgs[:0]
	p.recycle(b)
	return true
}
