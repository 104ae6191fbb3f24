//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// fill writes n messages of size bytes to each of partitions 0..parts-1
// of topic through the engine's producer.
func fill(t *testing.T, cl *cluster.Cluster, topic string, parts, n, size int) {
	t.Helper()
	p := startProducer(t, cl, testhelp.ProducerConfig())
	rep := testhelp.NewReports(parts * n)
	for part := range parts {
		for i := range n {
			v := make([]byte, size)
			copy(v, fmt.Sprintf("%d-%d", part, i))
			if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Partition: int32(part), Value: v}, rep.Done); err != nil {
				t.Fatalf("Produce: %v", err)
			}
		}
	}
	rep.Wait(t, 2*time.Minute)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%d deliveries failed, first: %v", len(errs), errs[0])
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// assignSome assigns the given partitions of topic at offset 0, epoch 1.
func assignSome(t *testing.T, f engine.Fetcher, topic string, parts ...int32) {
	t.Helper()
	var pos []engine.Position
	for _, p := range parts {
		pos = append(pos, engine.Position{TopicPartition: engine.TopicPartition{Topic: topic, Partition: p}, Epoch: 1})
	}
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatalf("Assign: %v", err)
	}
}

// readAll polls f until got holds n messages of each of parts (pollUntil
// checks epochs and that offsets only go forward, one message each).
func readAll(t *testing.T, f engine.Fetcher, got map[engine.TopicPartition]*consumed, topic string, n int, parts ...int32) {
	t.Helper()
	pollUntil(t, f, 2*time.Minute, 1, got, func() bool {
		for _, p := range parts {
			c := got[engine.TopicPartition{Topic: topic, Partition: p}]
			if c == nil || len(c.msgs) < n {
				return false
			}
		}
		return true
	})
	for _, p := range parts {
		c := got[engine.TopicPartition{Topic: topic, Partition: p}]
		if len(c.msgs) != n || c.msgs[0].Offset != 0 || c.next != int64(n) {
			t.Fatalf("%s/%d: %d messages, offsets %d..%d; want %d from 0", topic, p, len(c.msgs), c.msgs[0].Offset, c.next-1, n)
		}
	}
}

// TestFetchersShareOneInstance: a client's fetchers of one configuration
// share one librdkafka consumer, so 3 or 10 of them reading a topic's
// partitions between them open no more connections than one; each reads
// exactly its own partitions.
func TestFetchersShareOneInstance(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	const parts, n = 12, 50
	topic := testhelp.CreateTopic(t, nil, parts)
	fill(t, cl, topic, parts, n, 100)
	brokers := testinstance.Shared().Brokers()
	counts := map[int]int{}
	for _, k := range []int{1, 3, 10} {
		fs := make([]engine.Fetcher, k)
		mine := make([][]int32, k)
		for i := range fs {
			f, err := rdkafkaEngine(t).NewFetcher(t.Context(), cl, testhelp.FetcherConfig())
			if err != nil {
				t.Fatal(err)
			}
			fs[i] = f
		}
		for p := range int32(parts) {
			mine[int(p)%k] = append(mine[int(p)%k], p)
		}
		for i, f := range fs {
			assignSome(t, f, topic, mine[i]...)
		}
		for i, f := range fs {
			got := map[engine.TopicPartition]*consumed{}
			readAll(t, f, got, topic, n, mine[i]...)
			if len(got) != len(mine[i]) {
				t.Fatalf("fetcher %d of %d read %d partitions, was given %d", i, k, len(got), len(mine[i]))
			}
		}
		held := testhelp.BrokerSockets(t, brokers)
		for _, f := range fs {
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
		// The client's own connections stay (Assign asks it for
		// metadata); librdkafka's close with its instance.
		counts[k] = held - testhelp.BrokerSockets(t, brokers)
	}
	t.Logf("librdkafka connections with 1, 3 and 10 fetchers: %d, %d, %d", counts[1], counts[3], counts[10])
	// One instance: a connection per broker, and perhaps still one to
	// the bootstrap address (librdkafka drops it once it knows the
	// brokers, at a moment of its own). Two instances would hold twice.
	for _, k := range []int{1, 3, 10} {
		if counts[k] == 0 || counts[k] > len(brokers)+1 {
			t.Fatalf("connections with 1, 3 and 10 fetchers: %d, %d, %d; want one instance's (at most %d) for all", counts[1], counts[3], counts[10], len(brokers)+1)
		}
	}
}

// TestFetcherMovesOnOverlap: of two fetchers sharing an instance, the one
// given a partition the other has moves to another instance, mid-read,
// and goes on from where it was: both read every message of their
// partitions exactly once, in order.
func TestFetcherMovesOnOverlap(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	const parts, n = 4, 3000
	topic := testhelp.CreateTopic(t, nil, parts)
	fill(t, cl, topic, parts, n, 100)
	a, b := startFetcher(t, cl, testhelp.FetcherConfig()), startFetcher(t, cl, testhelp.FetcherConfig())
	if a.(*fetcher).inst != b.(*fetcher).inst {
		t.Fatal("two fetchers of one client and configuration have separate instances")
	}
	assignSome(t, a, topic, 0, 1)
	assignSome(t, b, topic, 2, 3)
	gotA, gotB := map[engine.TopicPartition]*consumed{}, map[engine.TopicPartition]*consumed{}
	// Part of the way: b has read some of its partitions when it moves.
	pollUntil(t, b, time.Minute, 1, gotB, func() bool { return total(gotB) >= 500 })
	pollUntil(t, a, time.Minute, 1, gotA, func() bool { return total(gotA) >= 500 })
	assignSome(t, b, topic, 0)
	if a.(*fetcher).inst == b.(*fetcher).inst {
		t.Fatal("b was given a's partition and stayed on a's instance")
	}
	readAll(t, b, gotB, topic, n, 0, 2, 3)
	readAll(t, a, gotA, topic, n, 0, 1)
}

// TestFetcherNotPolledStaysBounded: a fetcher that is not polled does not
// hold back the other fetcher of its instance, which reads for it: its
// inbox stops growing near its bound (its partitions paused), and when it
// is polled it reads everything, in order, once.
func TestFetcherNotPolledStaysBounded(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	const many = 100000
	topic := testhelp.CreateTopic(t, nil, 2)
	fill(t, cl, topic, 1, 100, 100) // partition 0: a's
	bigTopic := testhelp.CreateTopic(t, nil, 1)
	fill(t, cl, bigTopic, 1, many, 100) // b's
	a, b := startFetcher(t, cl, testhelp.FetcherConfig()), startFetcher(t, cl, testhelp.FetcherConfig())
	assignSome(t, a, topic, 0)
	assignSome(t, b, bigTopic, 0)
	gotA := map[engine.TopicPartition]*consumed{}
	readAll(t, a, gotA, topic, 100, 0)

	// a goes on polling (nothing more of its own comes) and reads b's
	// messages into b's inbox until b is paused.
	rb := b.(*fetcher)
	throttled := func() (bool, int) {
		rb.inboxMu.Lock()
		defer rb.inboxMu.Unlock()
		return rb.throttled, len(rb.inbox)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		fe, err := a.Poll(ctx)
		cancel()
		if err == nil {
			t.Fatalf("a polled %s, which has nothing more", fe.TopicPartition)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		if th, _ := throttled(); th {
			break
		}
		if time.Now().After(deadline) {
			_, n := throttled()
			t.Fatalf("b's inbox holds %d messages and b is not paused", n)
		}
	}
	// What librdkafka had queued for b still comes after the pause; then
	// nothing more. At most: the inbox's bound and the batch that crossed
	// it, then librdkafka's queue for the partition (it stops fetching at
	// queued.min.messages, QueuedMaxMessages, plus the response that
	// crossed it) and a response in flight, each at most
	// PartitionMaxBytes of 100-byte values.
	cfg := testhelp.FetcherConfig()
	perResponse := int(cfg.PartitionMaxBytes) / 100
	bound := inboxMaxMessages + maxDrain + cfg.QueuedMaxMessages + 2*perResponse
	for range 20 {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		_, _ = a.Poll(ctx)
		cancel()
	}
	if _, n := throttled(); n > bound || n >= many {
		t.Fatalf("b's inbox holds %d messages of %d, bound %d", n, many, bound)
	} else {
		t.Logf("b's inbox: %d messages of %d (bound %d)", n, many, bound)
	}
	gotB := map[engine.TopicPartition]*consumed{}
	readAll(t, b, gotB, bigTopic, many, 0)
}
