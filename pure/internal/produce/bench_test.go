package produce

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// offlineProducer is a Producer whose partitions (parts of each topic) have
// no sink, so nothing is ever sent: it measures the per-message Produce path
// alone (topic and partition lookup, queue, lock, encoding, batch
// rollover). drainOffline plays the part of the sinks, recycling the
// batches and freeing the queue.
func offlineProducer(cfg engine.ProducerConfig, topics []string, parts int) *Producer {
	p := &Producer{
		cfg:        cfg,
		log:        slog.New(slog.DiscardHandler),
		q:          engine.NewQueue(cfg.MaxQueued),
		closedCh:   make(chan struct{}),
		sinks:      map[int32]*sink{},
		routerWake: make(chan struct{}, 1),
		flushCh:    make(chan struct{}),
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	table := map[string]*topic{}
	for _, name := range topics {
		t := &topic{name: name}
		ps := make([]*partition, parts)
		for i := range ps {
			ps[i] = &partition{topic: name, id: int32(i)}
			p.all = append(p.all, ps[i])
		}
		t.parts.Store(&ps)
		table[name] = t
	}
	p.topics.Store(&table)
	return p
}

// drainOffline recycles every sealed batch (all batches if all) and frees
// their queue slots. Like a sink, it records the size of what it took, from
// which the partition sizes its next batch.
func (p *Producer) drainOffline(all bool) {
	for _, pt := range p.partitions() {
		pt.mu.Lock()
		n := 0
		for len(pt.batches) > 0 && (all || pt.batches[0].sealed) {
			b := pt.batches[0]
			pt.batches = slices.Delete(pt.batches, 0, 1) // keeps the capacity, as a sink does
			pt.lastBytes, pt.lastCount = b.rb.EncodedSize(), len(b.msgs)
			n += len(b.msgs)
			p.recycle(b)
		}
		pt.mu.Unlock()
		p.q.Release(n)
	}
}

func benchConfig() engine.ProducerConfig {
	cfg := testhelp.ProducerConfig()
	cfg.MaxQueued = 1 << 30 // the benchmark loop never waits for room
	cfg.Linger = time.Hour  // batches close on size only: the loop measures the append path
	return cfg
}

var noopDone engine.DoneFunc = func(*engine.Message, error) {}

// benchMessages returns n messages with 100-byte values and no key, spread
// round robin over every partition of topics, stamped as the root stamps
// them (the engine does not stamp).
func benchMessages(n int, topics []string, parts int) []engine.Message {
	msgs := make([]engine.Message, n)
	now := time.Now()
	for i := range msgs {
		msgs[i] = engine.Message{
			Topic:     topics[i%len(topics)],
			Partition: int32(i / len(topics) % parts),
			Value:     make([]byte, 100),
			Timestamp: now,
		}
	}
	return msgs
}

// BenchmarkProduce is the per-message cost of Produce: 100-byte values,
// no key, one partition, reused messages (the root allocates one per call;
// the engine must not). In the "+clock" variant each message is stamped
// with an engine.Clock first, as the root stamps it (and as Produce itself
// did before the root took that over), for comparison with older figures.
func BenchmarkProduce(b *testing.B) {
	for _, c := range []struct {
		codec records.Codec
		stamp bool
	}{{records.CodecNone, false}, {records.CodecSnappy, false}, {records.CodecNone, true}} {
		name := c.codec.String()
		if c.stamp {
			name += "+clock"
		}
		b.Run(name, func(b *testing.B) {
			cfg := benchConfig()
			cfg.Compression = c.codec
			topics := []string{"bench"}
			p := offlineProducer(cfg, topics, 1)
			ctx := context.Background()
			msgs := benchMessages(4096, topics, 1)
			var clock engine.Clock
			b.ReportAllocs()
			b.SetBytes(100)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := &msgs[i%len(msgs)]
				if c.stamp {
					m.Timestamp = clock.Now()
				}
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

// BenchmarkProduceTopics is the per-message cost of Produce to many
// partitions of one topic or of several: each message goes to the next
// partition round robin (of the next topic, with several), and every
// perPartition messages per partition the batches are taken, as a sink
// takes them when their linger ends. topics=10/partitions=12 against
// topics=1/partitions=12 is what serving several topics costs per message;
// against topics=1/partitions=120 (as many partitions, one topic), what
// the topic lookup alone costs.
func BenchmarkProduceTopics(b *testing.B) {
	const perPartition = 64 // about 8 KB batches
	for _, c := range []struct{ topics, parts int }{{1, 12}, {10, 12}, {1, 120}} {
		b.Run(fmt.Sprintf("topics=%d/partitions=%d", c.topics, c.parts), func(b *testing.B) {
			topics := make([]string, c.topics)
			for i := range topics {
				topics[i] = fmt.Sprintf("bench-topic-%02d", i)
			}
			p := offlineProducer(benchConfig(), topics, c.parts)
			ctx := context.Background()
			msgs := benchMessages(perPartition*c.topics*c.parts, topics, c.parts)
			// Two rounds first (the second sizes batches from the
			// first): from then on batches are reused, as in a
			// producer that has been running.
			for range 2 {
				for i := range msgs {
					if err := p.Produce(ctx, &msgs[i], noopDone); err != nil {
						b.Fatal(err)
					}
				}
				p.drainOffline(true)
			}
			b.ReportAllocs()
			b.SetBytes(100)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := p.Produce(ctx, &msgs[i%len(msgs)], noopDone); err != nil {
					b.Fatal(err)
				}
				if i%len(msgs) == len(msgs)-1 {
					p.drainOffline(true)
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
	topics := []string{"bench"}
	p := offlineProducer(benchConfig(), topics, parts)
	ctx := context.Background()
	var next atomic.Int32
	var draining atomic.Bool
	b.ReportAllocs()
	b.SetBytes(100)
	b.RunParallel(func(pb *testing.PB) {
		part := next.Add(1) % parts
		msgs := benchMessages(4096, topics, 1)
		for i := range msgs {
			msgs[i].Partition = part
		}
		i := 0
		for pb.Next() {
			if err := p.Produce(ctx, &msgs[i%len(msgs)], noopDone); err != nil {
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
// 100-byte messages, acks=all, idempotent, linger 5 ms, then Flush; to 12
// partitions of one topic, and to 4 partitions of each of 3 topics through
// the same producer.
func BenchmarkProduceCluster(b *testing.B) {
	for _, c := range []struct{ topics, parts int }{{1, 1}, {1, 12}, {3, 4}} {
		b.Run(fmt.Sprintf("topics=%d/partitions=%d", c.topics, c.parts), func(b *testing.B) {
			tc := testinstance.Shared()
			cl := testhelp.NewCluster(b, nil)
			topics := make([]string, c.topics)
			for i := range topics {
				topics[i] = newTopic(b, tc, cl, c.parts)
			}
			p := newProducer(b, cl, testhelp.ProducerConfig())
			ctx := context.Background()
			var failed atomic.Int64
			done := func(_ *engine.Message, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			value := make([]byte, 100)
			// A message to every partition first, so that the
			// connections, the producer ID and the leaders are known
			// before the clock starts: the benchmark measures the
			// steady rate, and b.N is not sized from a first
			// iteration that waited for them.
			for _, topic := range topics {
				for part := range int32(c.parts) {
					if err := p.Produce(ctx, &engine.Message{Topic: topic, Partition: part, Value: value, Timestamp: time.Now()}, done); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(100)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				// The root allocates a Message per Produce too.
				m := &engine.Message{Topic: topics[i%c.topics], Partition: int32(i / c.topics % c.parts), Value: value, Timestamp: start}
				if err := p.Produce(ctx, m, done); err != nil {
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
