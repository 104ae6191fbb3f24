package fetch

import "github.com/gokafka/kafka/internal/engine"

// observeBatch tells obs of one partition's records decoded from a Fetch
// response of broker node: called only when someone listens (cfg.Observer
// set), so the byte count of the messages is spent on listeners alone.
func observeBatch(obs engine.BatchObserver, node int32, sp *sentPart) {
	n := 0
	for _, m := range sp.res.msgs {
		n += len(m.Key) + len(m.Value)
		for _, h := range m.Headers {
			n += len(h.Key) + len(h.Value)
		}
	}
	obs.FetchBatchRead(engine.BatchInfo{
		Broker:          node,
		Topic:           sp.c.tp.Topic,
		Partition:       sp.c.tp.Partition,
		Records:         len(sp.res.msgs),
		Bytes:           n,
		CompressedBytes: len(sp.rp.RecordBatches),
	})
}
