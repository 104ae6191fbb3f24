package fetch

import "github.com/gokafka/kafka/internal/engine"

// observeBatch tells obs of one partition's records decoded from a Fetch
// response of broker node: called only when someone listens (cfg.Observer
// set), so the byte count of the messages is spent on listeners alone.
func observeBatch(obs engine.BatchObserver, node int32, sp *sentPart) {
	n, count := 0, 0
	if recs := sp.res.recs; recs != nil {
		n, count = recs.bytes(), len(recs.recs)
	}
	obs.FetchBatchRead(engine.BatchInfo{
		Broker:          node,
		Topic:           sp.c.tp.Topic,
		Partition:       sp.c.tp.Partition,
		Records:         count,
		Bytes:           n,
		CompressedBytes: len(sp.rp.RecordBatches),
	})
}
