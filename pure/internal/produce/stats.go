package produce

import "github.com/gokafka/kafka/internal/engine"

// QueueStats implements engine.QueueStater: the messages accepted and not
// yet reported, and the bytes of the batches that hold them (encoded, before
// compression). It takes each partition's lock in turn: for a stats
// snapshot, not for a hot path.
func (p *Producer) QueueStats() engine.QueueStats {
	p.mu.Lock()
	all := p.all
	p.mu.Unlock()
	st := engine.QueueStats{Messages: p.q.Len(), Max: p.q.Max()}
	for _, pt := range all {
		pt.mu.Lock()
		for _, b := range pt.batches {
			st.Bytes += int64(b.rb.EncodedSize())
		}
		pt.mu.Unlock()
	}
	return st
}
