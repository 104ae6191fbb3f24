//go:build cgo && !nordkafka

package rdkafka

import (
	"context"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
)

// Enabled reports whether this build contains the librdkafka engine: true
// when built with cgo and without the nordkafka tag (see the package
// documentation).
const Enabled = true

// LibraryVersion is the version of the librdkafka linked into this
// program, for example "2.11.1", or "" when the engine is not built in.
func LibraryVersion() string {
	_, v := kafka.LibraryVersion()
	return v
}

// engineName is the name the root looks the engine up by (UseRdkafka).
const engineName = "rdkafka"

func init() {
	engine.Register(engineName, rdEngine{})
}

// rdEngine is the engine.Engine registered under "rdkafka".
type rdEngine struct{}

// NewProducer implements engine.Engine. It starts librdkafka's threads,
// confluent-kafka-go's poller goroutine and two goroutines of its own; the
// producer's Close stops them. Construction does no network wait: librdkafka
// connects in the background. With a TransactionalID the producer is an
// engine.TxnProducer (txn.go).
func (rdEngine) NewProducer(_ context.Context, cl *cluster.Cluster, cfg engine.ProducerConfig) (engine.Producer, error) {
	p, err := newProducer(cl, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.TransactionalID != "" {
		return newTxnProducer(p), nil
	}
	return p, nil
}

// NewFetcher implements engine.Engine. It starts librdkafka's threads and
// one goroutine that forwards librdkafka's logs; the fetcher's Close stops
// them.
func (rdEngine) NewFetcher(_ context.Context, cl *cluster.Cluster, cfg engine.FetcherConfig) (engine.Fetcher, error) {
	return newFetcher(cl, cfg)
}
