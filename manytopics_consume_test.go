package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// produceTo writes n messages "<topic>:<i>" round-robin over the topic's
// partitions, with a producer of the client.
func produceTo(t *testing.T, client *kafka.Client, topic string, partitions int32, n int) {
	t.Helper()
	var msgs []*kafka.Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, &kafka.Message{Topic: topic, Partition: int32(i) % partitions, PartitionSet: true, Value: []byte(fmt.Sprintf("%s:%d", topic, i))})
	}
	produceSync(t, client, msgs)
}

// TestSimpleConsumerManyTopics: a client's simple consumer reads chosen
// partitions of several topics, each message once; positions, high
// watermarks and lag are keyed by topic and partition, and lag reaches 0.
func TestSimpleConsumerManyTopics(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		a, b := newTopic(t, client, 3), newTopic(t, client, 2)
		produceTo(t, client, a.Name(), 3, 90)
		produceTo(t, client, b.Name(), 2, 40)
		ctx := testhelp.Ctx(t, time.Minute)
		c, err := client.NewSimpleConsumer(ctx, kafka.ConsumerConfig{
			Topics:          map[string][]int32{a.Name(): nil, b.Name(): {1}},
			ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		want := []kafka.TopicPartition{{Topic: a.Name(), Partition: 0}, {Topic: a.Name(), Partition: 1}, {Topic: a.Name(), Partition: 2}, {Topic: b.Name(), Partition: 1}}
		slices.SortFunc(want, kafka.TopicPartition.Compare)
		if got := c.Partitions(); !slices.Equal(got, want) {
			t.Fatalf("Partitions %v, want %v", got, want)
		}
		if c.Topic() != nil {
			t.Fatal("a client's consumer has a Topic")
		}
		got := byValue(t, consumeN(t, c, 90+20))
		for tp, m := range got {
			if m.Topic == b.Name() && m.Partition != 1 {
				t.Fatalf("%s read from %s/%d, which was not asked for", tp, m.Topic, m.Partition)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			lag, hw, held := c.Lag(), c.HighWatermarks(), c.HeldOffsets()
			done := len(lag) == len(want)
			for _, tp := range want {
				wantHW := int64(30)
				if tp.Topic == b.Name() {
					wantHW = 20
				}
				done = done && lag[tp] == 0 && hw[tp] == wantHW && held[tp] == wantHW
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lag %v, high watermarks %v, positions %v", lag, hw, held)
			}
			time.Sleep(10 * time.Millisecond) // polling: lag is read from the last fetch
		}
	})
}

// TestPauseResume: a paused partition hands out nothing while the others
// continue; resumed, it continues from where it was.
func TestPauseResume(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 2)
		produceTo(t, client, topic.Name(), 2, 40) // 20 per partition
		ctx := testhelp.Ctx(t, time.Minute)
		c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka, ConsumerTimeout: 2 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		p0 := kafka.TopicPartition{Topic: topic.Name(), Partition: 0}
		p1 := kafka.TopicPartition{Topic: topic.Name(), Partition: 1}
		// Read a few of p0 first, so the pause has a position to keep.
		var fromP0 int
		for fromP0 < 5 {
			m, err := c.Consume(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Partition == 0 {
				fromP0++
			}
		}
		if err := c.Pause(ctx, p0); err != nil {
			t.Fatal(err)
		}
		if got := c.Paused(); !slices.Equal(got, []kafka.TopicPartition{p0}) {
			t.Fatalf("Paused %v", got)
		}
		pos0 := c.HeldOffsets()[p0]
		for m, err := range c.Messages(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			if m.Partition == 0 {
				t.Fatalf("a message of paused partition 0 at offset %d", m.Offset)
			}
		}
		if !errors.Is(c.Err(), kafka.ErrConsumerTimeout) {
			t.Fatalf("iteration ended with %v, want ErrConsumerTimeout", c.Err())
		}
		if c.HeldOffsets()[p1] != 20 || c.HeldOffsets()[p0] != pos0 {
			t.Fatalf("positions %v after reading partition 1 only (partition 0 paused at %d)", c.HeldOffsets(), pos0)
		}
		if err := c.Resume(ctx, p0); err != nil {
			t.Fatal(err)
		}
		next := pos0
		for next < 20 {
			m, err := c.Consume(ctx)
			if err != nil {
				t.Fatalf("after Resume: %v", err)
			}
			if m.Partition != 0 || m.Offset != next {
				t.Fatalf("after Resume: %d@%d, want 0@%d", m.Partition, m.Offset, next)
			}
			next++
		}
		unknown := kafka.TopicPartition{Topic: topic.Name(), Partition: 7}
		if err := c.Pause(ctx, unknown); !errors.Is(err, kafka.ErrUnknownPartition) {
			t.Fatalf("Pause of a partition not read: %v", err)
		}
	})
}

// TestIterationEndReasons: Err tells why Messages ended: the consumer
// timeout, the context, Close, or the error yielded.
func TestIterationEndReasons(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 1)
	c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{ConsumerTimeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Err() != nil {
		t.Fatalf("Err before any iteration: %v", c.Err())
	}
	for range c.Messages(context.Background()) {
		t.Fatal("a message in an empty topic")
	}
	if !errors.Is(c.Err(), kafka.ErrConsumerTimeout) {
		t.Fatalf("after the timeout: %v", c.Err())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	cancel()
	for range c.Messages(ctx) {
		t.Fatal("a message in an empty topic")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("after cancel: %v", c.Err())
	}
	c.Close(context.Background())
	for range c.Messages(context.Background()) {
		t.Fatal("a message after Close")
	}
	if !errors.Is(c.Err(), kafka.ErrClosed) {
		t.Fatalf("after Close: %v", c.Err())
	}

	// A fatal error is yielded, and Err says it too: a ResetNone consumer
	// moved past the end of its partition.
	produceTo(t, client, topic.Name(), 1, 3)
	group := testhelp.UniqueName(t, "g")
	tp := kafka.TopicPartition{Topic: topic.Name(), Partition: 0}
	ctx = testhelp.Ctx(t, time.Minute)
	if _, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{AutoOffsetReset: kafka.ResetNone}}); !errors.Is(err, kafka.ErrOffsetOutOfRange) {
		t.Fatalf("ResetNone with nothing committed: %v", err)
	}
	first, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.CommitOffsets(ctx); err != nil { // commits the start, 0
		t.Fatal(err)
	}
	first.Close(ctx)
	strict, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{AutoOffsetReset: kafka.ResetNone, ConsumerTimeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close(context.Background())
	if err := strict.ResetOffsets(ctx, map[kafka.TopicPartition]int64{tp: 1000}); err != nil {
		t.Fatal(err)
	}
	var yielded error
	for _, err := range strict.Messages(ctx) {
		yielded = err
	}
	if !errors.Is(yielded, kafka.ErrOffsetOutOfRange) || !errors.Is(strict.Err(), kafka.ErrOffsetOutOfRange) {
		t.Fatalf("past the end with ResetNone: yielded %v, Err %v", yielded, strict.Err())
	}
}
