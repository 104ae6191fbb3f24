package produce

import (
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// observeBatches tells obs of the batches of one Produce request, sent to
// broker node: called only when someone listens (cfg.Observer set).
func observeBatches(obs engine.BatchObserver, node int32, items []reqItem, took time.Duration, err error) {
	for _, it := range items {
		obs.ProduceBatchWritten(engine.BatchInfo{
			Broker:          node,
			Topic:           it.pt.topic,
			Partition:       it.pt.id,
			Records:         it.b.rb.NumRecords(),
			Bytes:           it.b.rb.EncodedSize(),
			CompressedBytes: len(it.b.wire),
			Took:            took,
		}, err)
	}
}
