package faultsuite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/kafka"
)

// MemoryConfig describes one measurement of a slow consumer's memory.
type MemoryConfig struct {
	Engine            Engine
	QueuedMaxMessages int
	// QueuedMaxBytes is the consumer's byte budget (0: none).
	QueuedMaxBytes int
	// PerMessage is how long the slow handler takes per message.
	PerMessage time.Duration
	// Settle bounds the measurement: it ends once the peak has not grown
	// for 3 s (prefetching has levelled off), or after Settle.
	Settle time.Duration
}

// MemoryResult is what MeasureConsumerMemory saw. Heap figures are the
// live Go heap after a forced GC (what the consumer holds, not garbage);
// RSS is the process's resident set (it includes librdkafka's C heap, and
// memory the Go runtime has not returned yet).
type MemoryResult struct {
	Engine            string
	QueuedMaxMessages int
	QueuedMaxBytes    int
	Partitions        int
	MessageBytes      int
	TopicBytes        int64 // value bytes in the topic
	Consumed          int   // messages the slow handler got through
	BaselineHeap      uint64
	PeakHeap          uint64
	BaselineRSS       uint64
	PeakRSS           uint64
	// Where the RSS lies, at the baseline and at the sample of peak RSS:
	// the Go heap's spans in use (live objects and the free room between
	// them), and what the Go runtime holds mapped and not returned (heap,
	// stacks, metadata). The RSS beyond the Mapped figures is memory the
	// Go runtime did not map: C heaps, thread stacks, the race detector's
	// shadow.
	BaselineSpans, PeakSpans   uint64
	BaselineMapped, PeakMapped uint64
	Duration                   time.Duration
}

// HeldHeap is the peak live heap above the baseline: what the consumer held.
func (r MemoryResult) HeldHeap() uint64 { return r.PeakHeap - min(r.BaselineHeap, r.PeakHeap) }

// HeldRSS is the peak RSS above the baseline.
func (r MemoryResult) HeldRSS() uint64 { return r.PeakRSS - min(r.BaselineRSS, r.PeakRSS) }

func (r MemoryResult) String() string {
	return fmt.Sprintf("%-7s QueuedMaxMessages %6d, QueuedMaxBytes %4.0f MiB: held heap %7.1f MiB, held RSS %7.1f MiB (peak RSS %7.1f MiB: heap spans %.1f, Go-mapped %.1f; baseline RSS %.1f: spans %.1f, Go-mapped %.1f), %d partitions x %d B messages, topic %.0f MiB, %d consumed in %v",
		r.Engine, r.QueuedMaxMessages, mib(uint64(r.QueuedMaxBytes)), mib(r.HeldHeap()), mib(r.HeldRSS()), mib(r.PeakRSS),
		mib(r.PeakSpans), mib(r.PeakMapped), mib(r.BaselineRSS), mib(r.BaselineSpans), mib(r.BaselineMapped), r.Partitions, r.MessageBytes,
		float64(r.TopicBytes)/(1<<20), r.Consumed, r.Duration.Round(time.Millisecond))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// PureMemoryBound is the memory a pure-Go consumer may hold, by its
// documented behaviour (pure/internal/fetch): per partition at most
// QueuedMaxMessages plus about one record batch (batchBytes), and per
// source two answers in the pipeline, each at most partitionMaxBytes per
// partition. Each message costs its value plus record framing and its
// *Message (counted as 256 bytes). The result is doubled, plus 32 MiB, so
// that it bounds the measurement generously; what it rules out is memory
// growing with the topic rather than with the configuration.
func PureMemoryBound(partitions, queuedMaxMessages, messageBytes, batchBytes, partitionMaxBytes int) uint64 {
	perMessage := messageBytes + 256
	perPartition := queuedMaxMessages*perMessage + batchBytes + batchBytes/messageBytes*256 + 2*partitionMaxBytes
	return uint64(2*partitions*perPartition) + 32<<20
}

// FillTopic creates a topic of partitions partitions, replicated once (the
// measurement is about the consumer, and spares the brokers' disks), and
// writes perPartition messages of size bytes to each.
func FillTopic(ctx context.Context, client *kafka.Client, partitions int32, perPartition, size int) (*kafka.Topic, error) {
	name := fmt.Sprintf("fault-memory-%s", strconv.FormatInt(time.Now().UnixNano(), 36))
	topic, err := client.CreateTopic(ctx, name, kafka.TopicConfig{Partitions: partitions, ReplicationFactor: 1})
	if err != nil {
		return nil, err
	}
	// The first failure ends the fill: on a sick cluster, better an error
	// now than a queue of messages expiring one DeliveryTimeout after
	// another.
	var failMu sync.Mutex
	var failed error
	p, err := topic.NewProducer(kafka.ProducerConfig{
		Partitioner: kafka.NewRoundRobinPartitioner(), Acks: kafka.AcksLeader, DeliveryTimeout: time.Minute,
		OnDelivery: func(r kafka.DeliveryReport) {
			if r.Err != nil {
				failMu.Lock()
				if failed == nil {
					failed = r.Err
				}
				failMu.Unlock()
			}
		},
	})
	if err != nil {
		return nil, err
	}
	firstFailure := func() error {
		failMu.Lock()
		defer failMu.Unlock()
		return failed
	}
	payload := bytes.Repeat([]byte("m"), size)
	for range int(partitions) * perPartition {
		err := p.Produce(ctx, payload)
		if err == nil {
			err = firstFailure()
		}
		if err != nil {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			p.Close(cctx) // what is still queued fails with ErrClosed
			cancel()
			return nil, fmt.Errorf("filling %s: %w", name, err)
		}
	}
	if err := errors.Join(p.Close(ctx), firstFailure()); err != nil {
		return nil, fmt.Errorf("filling %s: %w", name, err)
	}
	return topic, nil
}

// MeasureConsumerMemory consumes topic (from the start) with a handler that
// takes cfg.PerMessage per message, and samples the live heap and the RSS
// until prefetching levels off.
func MeasureConsumerMemory(ctx context.Context, topic *kafka.Topic, cfg MemoryConfig) (MemoryResult, error) {
	res := MemoryResult{Engine: cfg.Engine.Name, QueuedMaxMessages: cfg.QueuedMaxMessages, QueuedMaxBytes: cfg.QueuedMaxBytes, Partitions: len(topic.Partitions())}
	if cfg.Settle <= 0 {
		cfg.Settle = time.Minute
	}
	hw, err := topic.LatestOffsets(ctx)
	if err != nil {
		return res, err
	}
	var total int64
	for _, n := range hw {
		total += n
	}
	sample() // twice: pooled buffers survive one GC
	base := sample()
	res.BaselineHeap, res.BaselineRSS, res.BaselineSpans, res.BaselineMapped = base.heap, base.rss, base.spans, base.mapped
	c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: cfg.Engine.Rdkafka, QueuedMaxMessages: cfg.QueuedMaxMessages, QueuedMaxBytes: cfg.QueuedMaxBytes}})
	if err != nil {
		return res, err
	}
	cctx, cancel := context.WithCancel(ctx)
	var (
		mu       sync.Mutex
		consumed int
		size     int
		cerr     error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Consume may keep handing out prefetched messages after cctx
		// ends, so the loop checks cctx itself.
		for cctx.Err() == nil {
			m, err := c.Consume(cctx)
			if err != nil {
				if cctx.Err() == nil && !errors.Is(err, kafka.ErrClosed) {
					mu.Lock()
					cerr = err
					mu.Unlock()
				}
				return
			}
			mu.Lock()
			consumed++
			size = len(m.Value)
			mu.Unlock()
			time.Sleep(cfg.PerMessage) // the slow handler's work
		}
	}()
	// Sample until the peaks have not grown by 2% for 5 s (and at least
	// 10 s), or Settle passes.
	start := time.Now()
	lastGrowth := start
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for time.Since(start) < cfg.Settle && (time.Since(start) < 10*time.Second || time.Since(lastGrowth) < 5*time.Second) {
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		s := sample()
		if s.heap > res.PeakHeap+res.PeakHeap/50 || s.rss > res.PeakRSS+res.PeakRSS/50 {
			lastGrowth = time.Now()
		}
		if s.rss > res.PeakRSS {
			res.PeakRSS, res.PeakSpans, res.PeakMapped = s.rss, s.spans, s.mapped
		}
		res.PeakHeap = max(res.PeakHeap, s.heap)
	}
	res.Duration = time.Since(start)
	mu.Lock()
	res.Consumed, res.MessageBytes = consumed, size
	mu.Unlock()
	cancel()
	<-done
	closeErr := c.Close(context.WithoutCancel(ctx))
	err = errors.Join(cerr, closeErr, ctx.Err())
	res.TopicBytes = total * int64(res.MessageBytes)
	sample() // give back what the consumer held, before the next measurement
	return res, err
}

// memSample is one reading of the process's memory; see MemoryResult.
type memSample struct{ heap, spans, mapped, rss uint64 }

// sample reads the live heap and the RSS, after a GC that returns what it
// freed to the system.
func sample() memSample {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc, spans: ms.HeapInuse, mapped: ms.Sys - ms.HeapReleased, rss: readRSS()}
}

// readRSS reads VmRSS from /proc/self/status (0 where there is none).
func readRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
