package produce

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// offlineProducer is a Producer whose partitions have no sink, so nothing is
// ever sent: it measures the per-message Produce path alone (queue, lock,
// encoding, batch rollover). drain plays the part of the sinks, recycling
// the batches and freeing the queue.
func offlineProducer(cfg engine.ProducerConfig, parts int) *Producer {
	p := &Producer{
		cfg:        cfg,
		log:        slog.New(slog.DiscardHandler),
		q:          newQueue(cfg.MaxQueued),
		closedCh:   make(chan struct{}),
		sinks:      map[int32]*sink{},
		routerWake: make(chan struct{}, 1),
		flushCh:    make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	ps := make([]*partition, parts)
	for i := range ps {
		ps[i] = &partition{id: int32(i)}
	}
	p.parts.Store(&ps)
	return p
}

// drain recycles every sealed batch (all batches if all) and frees their
// queue slots.
func (p *Producer) drainOffline(all bool) {
	for _, pt := range *p.parts.Load() {
		pt.mu.Lock()
		n := 0
		for len(pt.batches) > 0 && (all || pt.batches[0].sealed) {
			b := pt.batches[0]
			pt.batches = pt.batches[1:]
			n += len(b.msgs)
			p.recycle(b)
		}
		pt.mu.Unlock()
		p.q.release(n)
	}
}

func benchConfig() engine.ProducerConfig {
	cfg := testhelp.ProducerConfig("bench")
	cfg.MaxQueued = 1 << 30 // the benchmark loop never waits for room
	cfg.Linger = time.Hour  // batches close on size only: the loop measures the append path
	return cfg
}

var noopDone engine.DoneFunc = func(*engine.Message, error) {}

// BenchmarkProduce is the per-message cost of Produce: 100-byte values,
// no key, reused messages (the root allocates one per call; the engine
// must not).
func BenchmarkProduce(b *testing.B) {
	for _, codec := range []records.Codec{records.CodecNone, records.CodecSnappy} {
		b.Run(codec.String(), func(b *testing.B) {
			cfg := benchConfig()
			cfg.Compression = codec
			p := offlineProducer(cfg, 1)
			ctx := context.Background()
			msgs := make([]engine.Message, 4096)
			for i := range msgs {
				msgs[i].Value = make([]byte, 100)
			}
			b.ReportAllocs()
			b.SetBytes(100)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := &msgs[i%len(msgs)]
				m.Timestamp = time.Time{}
				if err := p.Produce(ctx, m, noopDone); err != nil {
					b.Fatal(err)
				}
				if i%len(msgs) == len(msgs)-1 {
					p.drainOffline(false)
				}
			}
			b.StopTimer()
			p.drainOffline(true)
			p.cancel()
			p.wg.Wait()
		})
	}
}

// BenchmarkProduceParallel: goroutines producing to 12 partitions at once.
func BenchmarkProduceParallel(b *testing.B) {
	const parts = 12
	p := offlineProducer(benchConfig(), parts)
	ctx := context.Background()
	var next atomic.Int32
	var draining atomic.Bool
	b.ReportAllocs()
	b.SetBytes(100)
	b.RunParallel(func(pb *testing.PB) {
		part := next.Add(1) % parts
		msgs := make([]engine.Message, 4096)
		for i := range msgs {
			msgs[i].Value = make([]byte, 100)
			msgs[i].Partition = part
		}
		i := 0
		for pb.Next() {
			m := &msgs[i%len(msgs)]
			m.Timestamp = time.Time{}
			if err := p.Produce(ctx, m, noopDone); err != nil {
				b.Fatal(err)
			}
			i++
			if i%len(msgs) == 0 && draining.CompareAndSwap(false, true) {
				p.drainOffline(false)
				draining.Store(false)
			}
		}
	})
	b.StopTimer()
	p.drainOffline(true)
	p.cancel()
	p.wg.Wait()
}

// BenchmarkProduceCluster is the end-to-end rate on the real cluster:
// 100-byte messages, acks=all, idempotent, linger 5 ms, then Flush.
func BenchmarkProduceCluster(b *testing.B) {
	for _, parts := range []int{1, 12} {
		b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) {
			tc := testinstance.Shared()
			cl := testhelp.NewCluster(b, nil)
			topic := newTopic(b, tc, cl, parts)
			p := newProducer(b, cl, testhelp.ProducerConfig(topic))
			ctx := context.Background()
			var failed atomic.Int64
			done := func(_ *engine.Message, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			value := make([]byte, 100)
			b.ReportAllocs()
			b.SetBytes(100)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				// The root allocates a Message per Produce too.
				if err := p.Produce(ctx, &engine.Message{Partition: int32(i % parts), Value: value}, done); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
			if failed.Load() > 0 {
				b.Fatalf("%d messages failed", failed.Load())
			}
		})
	}
}
