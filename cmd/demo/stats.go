package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka"
)

// tally is the demo's hook (kafka.WithHooks): it counts records and the
// batches that carried them, for the summary the demo ends with.
type tally struct {
	produced, acked, failed, consumed atomic.Int64
	batches, bytes, compressed        atomic.Int64
}

func (t *tally) OnRecordProduced(*kafka.Message) { t.produced.Add(1) }
func (t *tally) OnRecordDelivered(_ *kafka.Message, err error) {
	if err != nil {
		t.failed.Add(1)
		return
	}
	t.acked.Add(1)
}
func (t *tally) OnRecordConsumed(*kafka.Message) { t.consumed.Add(1) }
func (t *tally) OnProduceBatch(e kafka.ProduceBatchEvent) {
	t.batches.Add(1)
	t.bytes.Add(int64(e.Bytes))
	t.compressed.Add(int64(e.CompressedBytes))
}

// summary prints what the hook counted and client.Stats(): per broker,
// requests and latency percentiles.
func summary(t *tally, st kafka.Stats) {
	fmt.Printf("demo: hooks: %d produced, %d acknowledged, %d failed, %d consumed; %d produce batches, %.1f MB (%.1f MB as sent)\n",
		t.produced.Load(), t.acked.Load(), t.failed.Load(), t.consumed.Load(),
		t.batches.Load(), float64(t.bytes.Load())/1e6, float64(t.compressed.Load())/1e6)
	for _, b := range st.Brokers {
		if b.Requests == 0 {
			continue
		}
		fmt.Printf("demo: stats: broker %d (%s): %d requests, %d errors, %d in flight, %.1f MB out, %.1f MB in, latency p50 %v p90 %v p99 %v\n",
			b.ID, b.Addr, b.Requests, b.Errors, b.InFlight, float64(b.BytesWritten)/1e6, float64(b.BytesRead)/1e6,
			b.LatencyP50.Round(10*time.Microsecond), b.LatencyP90.Round(10*time.Microsecond), b.LatencyP99.Round(10*time.Microsecond))
	}
}
