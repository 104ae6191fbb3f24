//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/testhelp"
)

// The benchmarks compare the engine with confluent-kafka-go used directly,
// with the same librdkafka properties (the engine's mapping of the same
// configuration), so that the difference is the cost of the wrapper. One
// benchmark op is one message. Run them on the shared cluster with, for
// example:
//
//	go test -run '^$' -bench . -benchtime 1000000x -count 1 ./rdkafka/
//
// Besides ns/op they report msg/s, and cpu-ns/msg: the process's CPU time
// (user + system, every thread: Go's and librdkafka's) per message, from
// getrusage. The brokers run in other processes and are not counted.

const (
	benchPartitions = 6
	benchValueSize  = 100
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs fn (which handles b.N messages) and reports its rate and
// CPU time per message.
// benchProfile, if set, receives a CPU profile of the measured part of a
// benchmark only (-test.cpuprofile would include the setup, such as
// filling a topic).
var benchProfile = flag.String("rdkafka.cpuprofile", "", "write a CPU profile of the measured part of the benchmarks to this file")

func measure(b *testing.B, fn func()) {
	b.ReportAllocs()
	// Start clean: the garbage of the setup (filling a topic) is not the
	// measured code's.
	runtime.GC()
	if *benchProfile != "" {
		f, err := os.Create(*benchProfile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	cpu0, t0 := cpuTime(), time.Now()
	fn()
	el, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msg/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
}

// BenchmarkProduce measures Produce through the engine to the brokers, to
// one topic and, with one producer, to ten (messages round-robin over the
// topics, then their partitions): the topic costs the engine nothing per
// message. Ten topics are ten times the partitions, which costs the
// brokers (and librdkafka: smaller batches, more of them per request), so
// engine-60partitions writes one topic of as many partitions as the ten
// topics have together, which tells the two costs apart.
func BenchmarkProduce(b *testing.B) {
	cl := testhelp.NewCluster(b, nil)
	value := make([]byte, benchValueSize)
	b.Run("engine", func(b *testing.B) {
		benchProduceEngine(b, cl, []string{testhelp.CreateTopic(b, nil, benchPartitions)}, benchPartitions, value)
	})
	b.Run("engine-10topics", func(b *testing.B) {
		topics := make([]string, 10)
		for i := range topics {
			topics[i] = testhelp.CreateTopic(b, nil, benchPartitions)
		}
		benchProduceEngine(b, cl, topics, benchPartitions, value)
	})
	b.Run("engine-60partitions", func(b *testing.B) {
		benchProduceEngine(b, cl, []string{testhelp.CreateTopic(b, nil, 10*benchPartitions)}, 10*benchPartitions, value)
	})
	for _, opaque := range []bool{false, true} {
		name := "confluent"
		if opaque {
			name = "confluent+opaque"
		}
		b.Run(name, func(b *testing.B) { benchProduceConfluent(b, cl, value, opaque) })
	}
}

// benchTarget is where message i of a benchmark goes: round-robin over
// the topics, then over their partitions.
func benchTarget(topics []string, partitions, i int) (string, int32) {
	return topics[i%len(topics)], int32(i / len(topics) % partitions)
}

func benchProduceEngine(b *testing.B, cl *cluster.Cluster, topics []string, partitions int, value []byte) {
	p := startProducer(b, cl, testhelp.ProducerConfig())
	warmUp(b, p, topics, partitions)
	var delivered, failed atomic.Int64
	all := make(chan struct{})
	done := func(m *engine.Message, err error) {
		if err != nil {
			failed.Add(1)
		}
		if delivered.Add(1) == int64(b.N) {
			close(all)
		}
	}
	ctx := context.Background()
	// Messages are reused from a ring twice as long as MaxQueued: a
	// message is reported before its slot comes round again, and the
	// measurement is the engine's, not the allocation of messages.
	ring := make([]engine.Message, 2*testhelp.ProducerConfig().MaxQueued)
	measure(b, func() {
		for i := 0; i < b.N; i++ {
			m := &ring[i%len(ring)]
			topic, part := benchTarget(topics, partitions, i)
			*m = engine.Message{Topic: topic, Partition: part, Value: value}
			if err := p.Produce(ctx, m, done); err != nil {
				b.Fatal(err)
			}
		}
		<-all
	})
	if failed.Load() > 0 {
		b.Fatalf("%d deliveries failed", failed.Load())
	}
}

// confluentClient opens a confluent-kafka-go producer or consumer (open)
// directly on the properties the engine derived (props, or their error),
// and discards its logs, which the engine would forward.
func confluentClient[C interface{ Logs() chan kafka.LogEvent }](b *testing.B, open func(*kafka.ConfigMap) (C, error), props *props, err error) C {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	c, err := open(&props.m)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for range c.Logs() {
		}
	}()
	return c
}

// benchProduceConfluent produces with confluent-kafka-go directly. With
// opaque, every message carries an Opaque (as the engine's do, to find
// their DoneFunc), which costs confluent-kafka-go a map insert and lookup.
func benchProduceConfluent(b *testing.B, cl *cluster.Cluster, value []byte, opaque bool) {
	{
		topic := testhelp.CreateTopic(b, nil, benchPartitions)
		props, err := producerProps(cl, testhelp.ProducerConfig())
		rd := confluentClient(b, kafka.NewProducer, props, err)
		defer rd.Close()
		var delivered, failed atomic.Int64
		target := atomic.Int64{}
		target.Store(-1)
		all := make(chan struct{})
		// progress is closed (and replaced) every 256 reports: a
		// producer that finds librdkafka's queue full waits on it, as a
		// careful direct user would (rather than spin or sleep).
		var progress atomic.Pointer[chan struct{}]
		first := make(chan struct{})
		progress.Store(&first)
		go func() {
			for ev := range rd.Events() {
				if m, ok := ev.(*kafka.Message); ok {
					if m.TopicPartition.Error != nil {
						failed.Add(1)
					}
					n := delivered.Add(1)
					if n == target.Load() {
						close(all)
					}
					if n%256 == 0 || len(rd.Events()) == 0 {
						next := make(chan struct{})
						close(*progress.Swap(&next))
					}
				}
			}
		}()
		// Warm up: connections and metadata, outside the measurement.
		km := kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic}, Value: value}
		for i := range 1000 {
			km.TopicPartition.Partition = int32(i % benchPartitions)
			if err := rd.Produce(&km, nil); err != nil {
				b.Fatal(err)
			}
		}
		for delivered.Load() < 1000 {
			rd.Flush(100)
		}
		delivered.Store(0)
		target.Store(int64(b.N))
		ring := make([]int, 2*testhelp.ProducerConfig().MaxQueued)
		measure(b, func() {
			for i := 0; i < b.N; i++ {
				// One message reused: librdkafka copies it, the best case
				// for a direct user.
				km.TopicPartition.Partition = int32(i % benchPartitions)
				if opaque {
					km.Opaque = &ring[i%len(ring)]
				}
				for {
					wait := progress.Load()
					err := rd.Produce(&km, nil)
					if err == nil {
						break
					}
					if ke, ok := err.(kafka.Error); !ok || ke.Code() != kafka.ErrQueueFull {
						b.Fatal(err)
					}
					<-*wait // queue full: wait for reports
				}
			}
			<-all
		})
		if failed.Load() > 0 {
			b.Fatalf("%d deliveries failed", failed.Load())
		}
	}
}

// warmUp produces and flushes a thousand messages so that connections and
// metadata exist before the measurement.
func warmUp(b *testing.B, p engine.Producer, topics []string, partitions int) {
	rep := testhelp.NewReports(1000)
	for i := range 1000 {
		topic, part := benchTarget(topics, partitions, i)
		if err := p.Produce(context.Background(), &engine.Message{Topic: topic, Partition: part, Value: []byte("warm")}, rep.Done); err != nil {
			b.Fatal(err)
		}
	}
	rep.Wait(b, time.Minute)
}

// filled caches topics that hold n messages of benchValueSize bytes.
var filled = struct {
	sync.Mutex
	topics map[int]string
}{topics: map[int]string{}}

func filledTopic(b *testing.B, cl *cluster.Cluster, n int) string {
	filled.Lock()
	defer filled.Unlock()
	if t, ok := filled.topics[n]; ok {
		return t
	}
	topic := testhelp.CreateTopic(b, nil, benchPartitions)
	p, err := rdkafkaEngine(b).NewProducer(context.Background(), cl, testhelp.ProducerConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	rep := testhelp.NewReports(n)
	value := make([]byte, benchValueSize)
	for i := range n {
		if err := p.Produce(context.Background(), &engine.Message{Topic: topic, Partition: int32(i % benchPartitions), Value: value}, rep.Done); err != nil {
			b.Fatal(err)
		}
	}
	rep.Wait(b, 10*time.Minute)
	if len(rep.Errors()) > 0 {
		b.Fatal(rep.Errors()[0])
	}
	filled.topics[n] = topic
	return topic
}

func BenchmarkFetch(b *testing.B) {
	cl := testhelp.NewCluster(b, nil)
	b.Run("engine", func(b *testing.B) {
		topic := filledTopic(b, cl, b.N)
		f := startFetcher(b, cl, testhelp.FetcherConfig())
		ctx := context.Background()
		measure(b, func() {
			assignAll(b, f, topic, benchPartitions, 0, 1)
			n, fetches := 0, 0
			for n < b.N {
				fe, err := f.Poll(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if fe.Err != nil {
					b.Fatal(fe.Err)
				}
				n += len(fe.Messages)
				fetches++
			}
			b.ReportMetric(float64(n)/float64(fetches), "msg/fetch")
		})
	})
	b.Run("confluent", func(b *testing.B) {
		topic := filledTopic(b, cl, b.N)
		props, err := fetcherProps(cl, testhelp.FetcherConfig())
		c := confluentClient(b, kafka.NewConsumer, props, err)
		defer c.Close()
		measure(b, func() {
			var tps []kafka.TopicPartition
			for p := range int32(benchPartitions) {
				tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: 0})
			}
			if err := c.IncrementalAssign(tps); err != nil {
				b.Fatal(err)
			}
			n := 0
			for n < b.N {
				switch e := c.Poll(100).(type) {
				case *kafka.Message:
					if e.TopicPartition.Error != nil {
						b.Fatal(e.TopicPartition.Error)
					}
					n++
				case kafka.Error:
					b.Fatal(e)
				}
			}
		})
	})
}

// BenchmarkProduceOffline isolates Produce from the network, the brokers
// and the delivery reports: messages go to a librdkafka instance that
// reaches no broker, so they stay queued until they are purged after the
// measurement. It compares the engine's Produce, to one topic and to ten,
// with confluent-kafka-go's, with and without an Opaque.
func BenchmarkProduceOffline(b *testing.B) {
	cl := testhelp.NewCluster(b, nil)
	value := make([]byte, benchValueSize)
	cfg := unreachable()
	cfg.MaxQueued = 1 << 24 // never full: b.N messages stay queued
	for _, n := range []int{1, 10} {
		name := "engine"
		if n > 1 {
			name = fmt.Sprintf("engine-%dtopics", n)
		}
		topics := make([]string, n)
		for i := range topics {
			topics[i] = fmt.Sprintf("nowhere-%d", i)
		}
		b.Run(name, func(b *testing.B) {
			p, err := rdkafkaEngine(b).NewProducer(context.Background(), cl, cfg)
			if err != nil {
				b.Fatal(err)
			}
			var reported atomic.Int64
			done := func(*engine.Message, error) { reported.Add(1) }
			msgs := make([]engine.Message, b.N)
			ctx := context.Background()
			measure(b, func() {
				for i := range msgs {
					topic, part := benchTarget(topics, benchPartitions, i)
					msgs[i] = engine.Message{Topic: topic, Partition: part, Value: value}
					if err := p.Produce(ctx, &msgs[i], done); err != nil {
						b.Fatal(err)
					}
				}
			})
			expired, cancel := context.WithCancel(ctx)
			cancel()
			p.Close(expired) // purges: every message is reported
			if reported.Load() != int64(b.N) {
				b.Fatalf("%d of %d reported", reported.Load(), b.N)
			}
		})
	}
	for _, opaque := range []bool{false, true} {
		name := "confluent"
		if opaque {
			name = "confluent+opaque"
		}
		b.Run(name, func(b *testing.B) {
			props, err := producerProps(cl, cfg)
			rd := confluentClient(b, kafka.NewProducer, props, err)
			defer rd.Close()
			topic := "nowhere"
			km := kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic}, Value: value}
			ops := make([]int, b.N)
			measure(b, func() {
				for i := 0; i < b.N; i++ {
					km.TopicPartition.Partition = int32(i % benchPartitions)
					if opaque {
						km.Opaque = &ops[i]
					}
					if err := rd.Produce(&km, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
			if err := rd.Purge(kafka.PurgeQueue | kafka.PurgeInFlight); err != nil {
				b.Fatal(err)
			}
			for n := 0; n < b.N; {
				if _, ok := (<-rd.Events()).(*kafka.Message); ok {
					n++
				}
			}
		})
	}
}
