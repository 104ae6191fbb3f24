package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

func keyed(i int) *kafka.Message {
	return &kafka.Message{Key: []byte("k" + strconv.Itoa(i)), Value: []byte("value-" + strconv.Itoa(i))}
}

// byValue indexes consumed messages by value and fails on duplicates.
func byValue(t *testing.T, msgs []*kafka.Message) map[string]*kafka.Message {
	t.Helper()
	seen := make(map[string]*kafka.Message, len(msgs))
	for _, m := range msgs {
		if prev, dup := seen[string(m.Value)]; dup {
			t.Fatalf("value %q read twice: p%d@%d and p%d@%d", m.Value, prev.Partition, prev.Offset, m.Partition, m.Offset)
		}
		seen[string(m.Value)] = m
	}
	return seen
}

func TestProduceConsumeRoundTripEachCodec(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		for _, codec := range []kafka.Compression{kafka.CompressionNone, kafka.CompressionGzip, kafka.CompressionSnappy, kafka.CompressionLZ4, kafka.CompressionZstd} {
			t.Run(codec.String(), func(t *testing.T) {
				topic := newTopic(t, client, 3)
				const n = 600
				produce(t, topic, kafka.ProducerConfig{Compression: codec, UseRdkafka: e.rdkafka}, n, func(i int) *kafka.Message {
					m := keyed(i)
					m.Headers = []kafka.Header{{Key: "i", Value: []byte(strconv.Itoa(i))}, {Key: "codec", Value: []byte(codec.String())}}
					return m
				})
				c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(context.Background())
				got := byValue(t, consumeN(t, c, n))
				for i := 0; i < n; i++ {
					m, ok := got["value-"+strconv.Itoa(i)]
					if !ok {
						t.Fatalf("message %d missing", i)
					}
					if string(m.Key) != "k"+strconv.Itoa(i) || len(m.Headers) != 2 || string(m.Headers[0].Value) != strconv.Itoa(i) || string(m.Headers[1].Value) != codec.String() {
						t.Fatalf("message %d came back as key %q headers %v", i, m.Key, m.Headers)
					}
					if m.Topic != topic.Name() {
						t.Fatalf("message topic %q", m.Topic)
					}
				}
			})
		}
	})
}

func TestSyncProduceReturnsAfterAck(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 2)
		p, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, UseRdkafka: e.rdkafka})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		ctx := testhelp.Ctx(t, time.Minute)
		// Several goroutines in sync mode: each Produce returns with the
		// message acknowledged, offsets unique per partition.
		var mu sync.Mutex
		offsets := map[int32][]int64{}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 25; i++ {
					m := &kafka.Message{Value: []byte(fmt.Sprintf("g%d-%d", g, i))}
					if err := p.ProduceMessage(ctx, m); err != nil {
						errs <- err
						return
					}
					if m.Offset < 0 {
						errs <- fmt.Errorf("acknowledged message has offset %d", m.Offset)
						return
					}
					mu.Lock()
					offsets[m.Partition] = append(offsets[m.Partition], m.Offset)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		latest, err := topic.LatestOffsets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for p, offs := range offsets {
			slices.Sort(offs)
			if len(slices.Compact(slices.Clone(offs))) != len(offs) {
				t.Fatalf("partition %d: duplicate offsets %v", p, offs)
			}
			if latest[p] != int64(len(offs)) {
				t.Fatalf("partition %d: %d acknowledged, high watermark %d", p, len(offs), latest[p])
			}
			total += len(offs)
		}
		if total != 200 {
			t.Fatalf("%d messages acknowledged, want 200", total)
		}
	})
}

func TestDeliveryReportsAndCallback(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 3)
		var cbMu sync.Mutex
		var callbacks int
		p, err := topic.NewProducer(kafka.ProducerConfig{
			DeliveryReports: true,
			OnDelivery: func(r kafka.DeliveryReport) {
				cbMu.Lock()
				callbacks++
				cbMu.Unlock()
			},
			UseRdkafka: e.rdkafka,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := testhelp.Ctx(t, time.Minute)
		const n = 300
		for i := 0; i < n; i++ {
			if err := p.Produce(ctx, []byte(strconv.Itoa(i)), kafka.WithOpaque(i)); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[int]bool{}
		perPartition := map[int32]map[int64]bool{}
		for len(seen) < n {
			select {
			case r := <-p.DeliveryReports():
				if r.Err != nil {
					t.Fatalf("delivery failed: %v", r.Err)
				}
				i := r.Message.Opaque.(int)
				if seen[i] || string(r.Message.Value) != strconv.Itoa(i) {
					t.Fatalf("report for %d repeated or with the wrong message %q", i, r.Message.Value)
				}
				seen[i] = true
				if perPartition[r.Message.Partition] == nil {
					perPartition[r.Message.Partition] = map[int64]bool{}
				}
				if perPartition[r.Message.Partition][r.Message.Offset] || r.Message.Offset < 0 {
					t.Fatalf("offset %d reported twice or negative", r.Message.Offset)
				}
				perPartition[r.Message.Partition][r.Message.Offset] = true
			case <-ctx.Done():
				t.Fatalf("only %d of %d reports", len(seen), n)
			}
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, open := <-p.DeliveryReports(); open {
			t.Fatal("report channel still open after Close")
		}
		cbMu.Lock()
		defer cbMu.Unlock()
		if callbacks != n {
			t.Fatalf("OnDelivery called %d times, want %d", callbacks, n)
		}
	})
}

func TestHashingPartitionerKeepsKeyOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 6)
		const keys, perKey = 20, 50
		produce(t, topic, kafka.ProducerConfig{Partitioner: kafka.HashingPartitioner, UseRdkafka: e.rdkafka}, keys*perKey, func(i int) *kafka.Message {
			k, seq := i%keys, i/keys
			return &kafka.Message{Key: []byte("key-" + strconv.Itoa(k)), Value: []byte(strconv.Itoa(seq))}
		})
		c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		next := map[string]int{}
		part := map[string]int32{}
		for _, m := range consumeN(t, c, keys*perKey) {
			k := string(m.Key)
			if p, ok := part[k]; ok && p != m.Partition {
				t.Fatalf("key %s on partitions %d and %d", k, p, m.Partition)
			}
			part[k] = m.Partition
			if want := kafka.HashingPartitioner(m, 6); m.Partition != want {
				t.Fatalf("key %s on partition %d, HashingPartitioner says %d", k, m.Partition, want)
			}
			if seq, _ := strconv.Atoi(string(m.Value)); seq != next[k] {
				t.Fatalf("key %s: got sequence %d, want %d (reordered)", k, seq, next[k])
			}
			next[k]++
		}
	})
}

func TestQueueFullBlocksOrFails(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		// A long linger keeps messages queued: the queue of 10 fills.
		cfg := kafka.ProducerConfig{MaxQueuedMessages: 10, Linger: 10 * time.Second, DeliveryTimeout: time.Minute, FailWhenQueueFull: true, UseRdkafka: e.rdkafka}
		p, err := topic.NewProducer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := testhelp.Ctx(t, time.Minute)
		var full error
		for i := 0; i < 100 && full == nil; i++ {
			full = p.Produce(ctx, []byte("x"))
		}
		if !errors.Is(full, kafka.ErrQueueFull) {
			t.Fatalf("fail-fast producer over its queue: got %v, want ErrQueueFull", full)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}

		cfg.FailWhenQueueFull = false
		p, err = topic.NewProducer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		for i := 0; i < 10; i++ {
			if err := p.Produce(ctx, []byte("y")); err != nil {
				t.Fatal(err)
			}
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := p.Produce(short, []byte("z")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("blocking producer over its queue: got %v, want to block until the context ends", err)
		}
		// Flush frees the queue: producing works again.
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Produce(ctx, []byte("after flush")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOversizeMessageFailsAlone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		p, err := topic.NewProducer(kafka.ProducerConfig{MaxMessageBytes: 10000, UseRdkafka: e.rdkafka})
		if err != nil {
			t.Fatal(err)
		}
		ctx := testhelp.Ctx(t, time.Minute)
		if err := p.Produce(ctx, []byte("before")); err != nil {
			t.Fatal(err)
		}
		if err := p.Produce(ctx, make([]byte, 20000)); !errors.Is(err, kafka.ErrMessageTooLarge) {
			t.Fatalf("20000-byte message with MaxMessageBytes 10000: got %v, want ErrMessageTooLarge", err)
		}
		if err := p.Produce(ctx, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatalf("Close: %v (the other messages must be delivered)", err)
		}
		wantHighWatermark(t, ctx, topic, 2, "after the two good messages")
	})
}

func TestOneMebibyteMessages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 2, "max.message.bytes", strconv.Itoa(4<<20))
		const n = 8
		big := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 1<<20) }
		produce(t, topic, kafka.ProducerConfig{MaxMessageBytes: 2 << 20, BatchBytes: 2 << 20, UseRdkafka: e.rdkafka}, n, func(i int) *kafka.Message {
			return &kafka.Message{Key: []byte{byte(i)}, Value: big(i)}
		})
		c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		for _, m := range consumeN(t, c, n) {
			if !bytes.Equal(m.Value, big(int(m.Key[0]))) {
				t.Fatalf("1 MiB message %d corrupted (len %d)", m.Key[0], len(m.Value))
			}
		}
	})
}

func TestHeadersAndTimestamps(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		explicit := time.Date(2024, 2, 29, 12, 30, 45, 123e6, time.UTC)
		before := time.Now().Add(-time.Second)
		produce(t, topic, kafka.ProducerConfig{UseRdkafka: e.rdkafka}, 2, func(i int) *kafka.Message {
			m := &kafka.Message{Value: []byte{byte(i)}, Headers: []kafka.Header{{Key: "a", Value: []byte("1")}, {Key: "a", Value: []byte("2")}, {Key: "empty", Value: []byte{}}, {Key: "nil"}}}
			if i == 0 {
				m.Timestamp = explicit
			}
			return m
		})
		after := time.Now().Add(time.Second)
		c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		msgs := consumeN(t, c, 2)
		if !msgs[0].Timestamp.Equal(explicit) {
			t.Fatalf("explicit timestamp came back as %v", msgs[0].Timestamp)
		}
		if ts := msgs[1].Timestamp; ts.Before(before) || ts.After(after) {
			t.Fatalf("default timestamp %v not between %v and %v", ts, before, after)
		}
		for _, m := range msgs {
			h := m.Headers
			if len(h) != 4 || h[0].Key != "a" || string(h[0].Value) != "1" || h[1].Key != "a" || string(h[1].Value) != "2" ||
				h[2].Key != "empty" || len(h[2].Value) != 0 || h[3].Key != "nil" || h[3].Value != nil {
				t.Fatalf("headers came back as %+v", h)
			}
		}
	})
}

func TestAcksLevels(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		for _, acks := range []kafka.Acks{kafka.AcksNone, kafka.AcksLeader, kafka.AcksAll} {
			t.Run("acks="+acks.String(), func(t *testing.T) {
				topic := newTopic(t, client, 1)
				produce(t, topic, kafka.ProducerConfig{Acks: acks, UseRdkafka: e.rdkafka}, 100, keyed)
				// With fewer than all acks the high watermark follows
				// replication, after the producer is done: poll for it.
				ctx := testhelp.Ctx(t, 30*time.Second)
				for {
					latest, err := topic.LatestOffsets(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if latest[0] == 100 {
						break
					}
					if acks == kafka.AcksAll || latest[0] > 100 {
						t.Fatalf("high watermark %d after 100 messages acknowledged by all replicas", latest[0])
					}
					time.Sleep(20 * time.Millisecond) // polling the broker
				}
			})
		}
	})
}

func TestFlushDeliversLingeringMessages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		p, err := topic.NewProducer(kafka.ProducerConfig{Linger: time.Minute, DeliveryTimeout: 2 * time.Minute, UseRdkafka: e.rdkafka})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		ctx := testhelp.Ctx(t, 30*time.Second)
		for i := 0; i < 50; i++ {
			if err := p.Produce(ctx, []byte("m")); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		wantHighWatermark(t, ctx, topic, 50, "after Flush")
	})
}

func TestProducerConfigErrorsNameTheField(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 1)
	checkConfigErrors(t, func(cfg kafka.ProducerConfig) error {
		_, err := topic.NewProducer(cfg)
		return err
	}, []configCase[kafka.ProducerConfig]{
		{"ProducerConfig.Acks", kafka.ProducerConfig{Acks: 7}},
		{"ProducerConfig.Compression", kafka.ProducerConfig{Compression: 9}},
		{"ProducerConfig.BatchBytes", kafka.ProducerConfig{BatchBytes: -1}},
		{"ProducerConfig.BatchBytes", kafka.ProducerConfig{BatchBytes: 10}},
		{"ProducerConfig.MaxQueuedMessages", kafka.ProducerConfig{MaxQueuedMessages: -5}},
		{"ProducerConfig.MaxQueuedBytes", kafka.ProducerConfig{MaxQueuedBytes: -1}},
		{"ProducerConfig.MaxQueuedBytes", kafka.ProducerConfig{MaxQueuedBytes: 1 << 20, UseRdkafka: true}},
		{"ProducerConfig.MaxInFlight", kafka.ProducerConfig{MaxInFlight: 6}},
		{"ProducerConfig.DeliveryTimeout", kafka.ProducerConfig{DeliveryTimeout: -time.Second}},
		{"ProducerConfig.DeliveryTimeout", kafka.ProducerConfig{DeliveryTimeout: time.Millisecond, Linger: time.Second}},
	})
	p, err := topic.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceMessage(context.Background(), nil); !errors.Is(err, kafka.ErrNilMessage) {
		t.Fatalf("nil message: %v", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(context.Background(), []byte("late")); !errors.Is(err, kafka.ErrClosed) {
		t.Fatalf("Produce after Close: %v", err)
	}
}
