package produce

import (
	"context"
	"fmt"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// producerID is the identity an idempotent producer stamps on its batches.
// gen numbers the IDs this producer has had (1, 2, ...), so that partitions
// and batches can tell an old ID from the current one cheaply.
type producerID struct {
	id    int64
	epoch int16
	gen   uint64
}

// producerID returns the current producer ID, asking a broker for one
// (InitProducerID without a transactional ID) the first time and after
// resetProducerID. Concurrent callers share one request.
func (p *Producer) producerID(ctx context.Context) (*producerID, error) {
	if id := p.pid.Load(); id != nil {
		return id, nil
	}
	if p.tx != nil {
		// A transactional producer gets its ID from its transaction
		// coordinator, in BeginTxn, before anything is produced.
		return nil, fmt.Errorf("%w: transactional producer %q has no producer ID", kerr.ErrNoTransaction, p.cfg.TransactionalID)
	}
	p.pidMu.Lock()
	defer p.pidMu.Unlock()
	if id := p.pid.Load(); id != nil {
		return id, nil
	}
	// Without a transactional ID any broker answers, and answers with a
	// new producer ID (epoch 0) every time; that is how an idempotent
	// producer moves past a sequence hole (KIP-360 epoch bumps only apply
	// to transactional IDs).
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionTimeoutMillis = 60000
	resp, err := p.cl.AnyRequest(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("kafka: getting a producer ID: %w", err)
	}
	r := resp.(*kmsg.InitProducerIDResponse)
	if err := kerr.ForCode(r.ErrorCode); err != nil {
		return nil, fmt.Errorf("kafka: getting a producer ID: %w", err)
	}
	p.pidGen++
	id := &producerID{id: r.ProducerID, epoch: r.ProducerEpoch, gen: p.pidGen}
	p.pid.Store(id)
	p.log.Debug("gokafka: producer ID", "id", id.id, "epoch", id.epoch, "gen", id.gen)
	return id, nil
}

// resetProducerID drops producer ID generation gen, if it is still the
// current one: the broker lost track of its sequence (or we left a hole in
// it), and the next batch to send fetches a new ID.
func (p *Producer) resetProducerID(gen uint64) {
	p.pidMu.Lock()
	defer p.pidMu.Unlock()
	if id := p.pid.Load(); id != nil && id.gen == gen {
		p.pid.Store(nil)
	}
}
