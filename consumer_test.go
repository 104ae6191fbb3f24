package kafka_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

func TestGroupStopsAndResumesWhereItLeftOff(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 3)
		group := testhelp.UniqueName(t, "g")
		const n = 300
		produce(t, topic, kafka.ProducerConfig{Partitioner: kafka.NewRoundRobinPartitioner(), UseRdkafka: e.rdkafka}, n, keyed)
		ctx := testhelp.Ctx(t, 2*time.Minute)

		c1 := groupConsumer(t, ctx, topic, group, e)
		first := consumeN(t, c1, 120)
		if err := c1.CommitOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		held := c1.HeldOffsets()
		committed, err := c1.FetchOffsets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for p, off := range held {
			if committed[p] != off {
				t.Fatalf("%s: held %d, committed %d (both are the next offset to read)", p, off, committed[p])
			}
		}
		if err := c1.Close(ctx); err != nil {
			t.Fatal(err)
		}

		c2 := groupConsumer(t, ctx, topic, group, e)
		defer c2.Close(context.Background())
		rest := consumeN(t, c2, n-120)
		for _, m := range rest {
			if want := committed[tp(topic, m.Partition)]; m.Offset < want {
				t.Fatalf("resumed consumer read p%d@%d, before the committed %d", m.Partition, m.Offset, want)
			}
		}
		all := byValue(t, append(first, rest...))
		if len(all) != n {
			t.Fatalf("read %d distinct messages, want %d", len(all), n)
		}
	})
}

func TestAutoCommitCommitsOnClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		group := testhelp.UniqueName(t, "g")
		produce(t, topic, kafka.ProducerConfig{UseRdkafka: e.rdkafka}, 50, keyed)
		ctx := testhelp.Ctx(t, time.Minute)
		c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true, AutoCommitInterval: time.Hour, UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		msgs := consumeN(t, c, 30)
		if err := c.Close(ctx); err != nil {
			t.Fatal(err)
		}
		check, committed := committedOffsets(t, ctx, topic, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if want := msgs[29].Offset + 1; committed[tp(topic, 0)] != want {
			t.Fatalf("committed %d on close, want last consumed + 1 = %d", committed[tp(topic, 0)], want)
		}
		if m := consumeN(t, check, 1)[0]; m.Offset != msgs[29].Offset+1 {
			t.Fatalf("next consumer starts at %d, want %d", m.Offset, msgs[29].Offset+1)
		}
	})
}

func TestAutoCommitInterval(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 1)
	group := testhelp.UniqueName(t, "g")
	produce(t, topic, kafka.ProducerConfig{}, 20, keyed)
	ctx := testhelp.Ctx(t, time.Minute)
	c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true, AutoCommitInterval: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	last := consumeN(t, c, 20)[19]
	for {
		committed, err := c.FetchOffsets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if committed[tp(topic, 0)] == last.Offset+1 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("auto-commit never committed %d (last seen %v)", last.Offset+1, committed)
		}
		time.Sleep(50 * time.Millisecond) // polling the broker for the condition
	}
}

func TestIterationEndsAfterConsumerTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 2)
		produce(t, topic, kafka.ProducerConfig{UseRdkafka: e.rdkafka}, 40, keyed)
		const timeout = 700 * time.Millisecond
		c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{ConsumerTimeout: timeout, UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		count := 0
		var lastAt time.Time
		for _, err := range c.Messages(testhelp.Ctx(t, time.Minute)) {
			if err != nil {
				t.Fatal(err)
			}
			count++
			lastAt = time.Now()
		}
		if count != 40 {
			t.Fatalf("iteration yielded %d messages, want 40", count)
		}
		if waited := time.Since(lastAt); waited < timeout {
			t.Fatalf("iteration ended %v after the last message, before ConsumerTimeout %v", waited, timeout)
		}
		if _, err := c.Consume(testhelp.Ctx(t, time.Minute)); !errors.Is(err, kafka.ErrConsumerTimeout) {
			t.Fatalf("Consume on an idle topic: %v, want ErrConsumerTimeout", err)
		}
	})
}

func TestPartitionSubset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 4)
		produce(t, topic, kafka.ProducerConfig{Partitioner: kafka.NewRoundRobinPartitioner(), UseRdkafka: e.rdkafka}, 400, keyed)
		c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{Partitions: []int32{3, 1}, ConsumerOptions: kafka.ConsumerOptions{ConsumerTimeout: 2 * time.Second, UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		if got := c.Partitions(); !slices.Equal(got, []kafka.TopicPartition{tp(topic, 1), tp(topic, 3)}) {
			t.Fatalf("Partitions() = %v", got)
		}
		count := map[int32]int{}
		for m, err := range c.Messages(testhelp.Ctx(t, time.Minute)) {
			if err != nil {
				t.Fatal(err)
			}
			count[m.Partition]++
		}
		if len(count) != 2 || count[1] != 100 || count[3] != 100 {
			t.Fatalf("messages per partition: %v, want 100 from each of 1 and 3 only", count)
		}
	})
	client := newClient(t)
	topic := newTopic(t, client, 2)
	_, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{Partitions: []int32{5}})
	var ce *kafka.ConfigError
	if !errors.As(err, &ce) || ce.Field != "ConsumerConfig.Partitions" {
		t.Fatalf("partition 5 of 2: %v", err)
	}
}

func TestResetOffsets(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		produce(t, topic, kafka.ProducerConfig{UseRdkafka: e.rdkafka}, 100, func(i int) *kafka.Message {
			m := keyed(i)
			m.Timestamp = base.Add(time.Duration(i) * time.Second)
			return m
		})
		ctx := testhelp.Ctx(t, time.Minute)
		group := testhelp.UniqueName(t, "g")

		c := groupConsumer(t, ctx, topic, group, e)
		defer c.Close(context.Background())
		if m := consumeN(t, c, 1)[0]; m.Offset != 0 {
			t.Fatalf("default start (earliest) at %d", m.Offset)
		}
		consumeN(t, c, 20) // prefetched messages must not survive a reset

		if err := c.ResetOffsets(ctx, at(topic, map[int32]int64{0: 70})); err != nil {
			t.Fatal(err)
		}
		if held := c.HeldOffsets()[tp(topic, 0)]; held != 70 {
			t.Fatalf("held offset after reset to 70: %d, want 70 (the position: the next offset to read)", held)
		}
		if m := consumeN(t, c, 1)[0]; m.Offset != 70 {
			t.Fatalf("after reset to 70, read %d", m.Offset)
		}
		if err := c.ResetOffsets(ctx, at(topic, map[int32]int64{0: kafka.OffsetEarliest})); err != nil {
			t.Fatal(err)
		}
		if m := consumeN(t, c, 1)[0]; m.Offset != 0 {
			t.Fatalf("after reset to earliest, read %d", m.Offset)
		}
		if err := c.ResetOffsetsToTime(ctx, base.Add(42*time.Second)); err != nil {
			t.Fatal(err)
		}
		if m := consumeN(t, c, 1)[0]; m.Offset != 42 {
			t.Fatalf("after reset to the time of message 42, read %d", m.Offset)
		}
		if err := c.ResetOffsets(ctx, at(topic, map[int32]int64{0: kafka.OffsetLatest})); err != nil {
			t.Fatal(err)
		}
		if held := c.HeldOffsets()[tp(topic, 0)]; held != 100 {
			t.Fatalf("held offset after reset to latest: %d, want 100 (the position)", held)
		}
		// Commit the reset position, then check a new consumer starts there.
		if err := c.CommitOffsets(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.FetchOffsets(ctx); got[tp(topic, 0)] != 100 {
			t.Fatalf("committed %v after reset to latest", got)
		}
		if err := c.ResetOffsets(ctx, at(topic, map[int32]int64{7: 0})); !errors.Is(err, kafka.ErrUnknownPartition) {
			t.Fatalf("reset of a partition not consumed: %v", err)
		}

		// AutoOffsetReset latest and ResetOffsetOnStart.
		late, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{AutoOffsetReset: kafka.ResetLatest, ConsumerTimeout: time.Second, UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer late.Close(context.Background())
		if m, err := late.Consume(ctx); !errors.Is(err, kafka.ErrConsumerTimeout) {
			t.Fatalf("a ResetLatest consumer read %v, %v from a topic with no new messages", m, err)
		}
		again, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{ResetOffsetOnStart: true, UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Close(context.Background())
		if m := consumeN(t, again, 1)[0]; m.Offset != 0 {
			t.Fatalf("ResetOffsetOnStart with earliest started at %d despite the commit at 100", m.Offset)
		}
	})
}

func TestOutOfRangeOffsetIsReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		produce(t, topic, kafka.ProducerConfig{UseRdkafka: e.rdkafka}, 10, keyed)
		ctx := testhelp.Ctx(t, time.Minute)
		group := testhelp.UniqueName(t, "g")
		// Commit an offset past the end, as if retention had moved on.
		commitGroupOffsets(t, ctx, topic, group, e, map[int32]int64{0: 5000})

		reset := groupConsumer(t, ctx, topic, group, e)
		defer reset.Close(context.Background())
		if m := consumeN(t, reset, 1)[0]; m.Offset != 0 {
			t.Fatalf("out of range with ResetEarliest: read %d, want 0", m.Offset)
		}

		strict, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{AutoOffsetReset: kafka.ResetNone, UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer strict.Close(context.Background())
		if _, err := strict.Consume(ctx); !errors.Is(err, kafka.ErrOffsetOutOfRange) {
			t.Fatalf("out of range with ResetNone: %v, want ErrOffsetOutOfRange", err)
		}
	})
}

func TestCompactedTopic(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1, "cleanup.policy", "compact", "segment.ms", "100",
			"min.cleanable.dirty.ratio", "0.01", "delete.retention.ms", "100", "min.compaction.lag.ms", "0")
		ctx := testhelp.Ctx(t, 3*time.Minute)
		p, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, UseRdkafka: e.rdkafka})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(context.Background())
		// Ten rounds over five keys, each round in its own segment
		// (segment.ms is 100 ms), so the cleaner can drop old values.
		for round := 0; round < 10; round++ {
			for k := 0; k < 5; k++ {
				if err := p.Produce(ctx, []byte(strconv.Itoa(round)), kafka.Key([]byte("key"+strconv.Itoa(k)))); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(120 * time.Millisecond) // not synchronisation: it makes segments roll
		}
		// Wait (polling the log) until the cleaner has removed offsets.
		for {
			c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{ConsumerTimeout: 2 * time.Second, UseRdkafka: e.rdkafka}})
			if err != nil {
				t.Fatal(err)
			}
			var offsets []int64
			latest := map[string]string{}
			for m, err := range c.Messages(ctx) {
				if err != nil {
					t.Fatal(err)
				}
				offsets = append(offsets, m.Offset)
				latest[string(m.Key)] = string(m.Value)
			}
			c.Close(ctx)
			if !slices.IsSorted(offsets) || len(slices.Compact(slices.Clone(offsets))) != len(offsets) {
				t.Fatalf("offsets out of order or repeated: %v", offsets)
			}
			if len(latest) != 5 {
				t.Fatalf("keys seen: %v", latest)
			}
			for k, v := range latest {
				if v != "9" {
					t.Fatalf("key %s ends with value %s, want the last round 9", k, v)
				}
			}
			hw, err := topic.LatestOffsets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(offsets)) < hw[0] && offsets[len(offsets)-1] == hw[0]-1 {
				t.Logf("compacted: %d of %d offsets remain, read across the gaps to offset %d", len(offsets), hw[0], hw[0]-1)
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("log never compacted (still %d offsets)", len(offsets))
			}
			// Rolling needs a new message after segment.ms.
			if err := p.Produce(ctx, []byte("9"), kafka.Key([]byte("key0"))); err != nil {
				t.Fatal(err)
			}
		}
	})
}
