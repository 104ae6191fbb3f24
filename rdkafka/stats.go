//go:build cgo && !nordkafka

package rdkafka

import "github.com/gokafka/kafka/internal/engine"

// QueueStats implements engine.QueueStater for kafka.Client.Stats: the
// messages accepted and not yet reported. The bytes they take in
// librdkafka's queue are not counted here (librdkafka reports them only in
// its statistics JSON, statistics.interval.ms, which this engine does not
// turn on): -1.
func (p *producer) QueueStats() engine.QueueStats {
	return engine.QueueStats{Messages: p.queue.Len(), Max: p.queue.Max(), Bytes: -1}
}
