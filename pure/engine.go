// Package pure is gokafka's default engine, written in Go only: it builds
// with CGO_ENABLED=0 and needs nothing but the Go toolchain.
//
// The engine is split by actor, as franz-go's kgo is. A producer and a
// fetcher each serve any number of topics. The producer
// (pure/internal/produce) keeps a buffer per topic and partition, one
// producer ID (idempotence) and one sink goroutine per broker for all
// topics, which turns ready buffers into Produce requests carrying batches
// of several topics; the fetcher (pure/internal/fetch) keeps a cursor per
// assigned topic and partition and a source goroutine per broker that
// long-polls Fetch requests into bounded per-partition queues. Both sit on
// the shared cluster layer (internal/cluster: metadata, one connection per
// broker and lane) and the wire layer (internal/wire).
//
// Users do not import this package: the root package kafka uses it unless a
// producer or consumer sets UseRdkafka.
package pure

import (
	"context"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/pure/internal/fetch"
	"github.com/gokafka/kafka/pure/internal/produce"
	"github.com/gokafka/kafka/pure/internal/share"
)

// Engine is the pure-Go engine. Its zero value is ready to use.
type Engine struct{}

// NewProducer implements engine.Engine.
func (Engine) NewProducer(ctx context.Context, cl *cluster.Cluster, cfg engine.ProducerConfig) (engine.Producer, error) {
	return produce.New(ctx, cl, cfg)
}

// NewFetcher implements engine.Engine.
func (Engine) NewFetcher(ctx context.Context, cl *cluster.Cluster, cfg engine.FetcherConfig) (engine.Fetcher, error) {
	return fetch.New(ctx, cl, cfg)
}

// NewShareFetcher implements engine.ShareEngine: the pure engine reads for
// share groups (see pure/internal/share).
func (Engine) NewShareFetcher(ctx context.Context, cl *cluster.Cluster, cfg engine.ShareFetcherConfig) (engine.ShareFetcher, error) {
	return share.New(ctx, cl, cfg)
}
