package kafka_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// kcat (librdkafka's CLI) is a client nobody here wrote: what it writes,
// gokafka must read, and the reverse.

func TestKcatProducesGokafkaConsumes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 3)
		var in strings.Builder
		for i := 0; i < 200; i++ {
			fmt.Fprintf(&in, "key-%d:value-%d\n", i, i)
		}
		testhelp.Kcat(t, nil, in.String(), "-P", "-t", topic.Name(), "-K:", "-z", "lz4", "-H", "source=kcat")
		c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		got := byValue(t, consumeN(t, c, 200))
		for i := 0; i < 200; i++ {
			m := got["value-"+strconv.Itoa(i)]
			if m == nil || string(m.Key) != "key-"+strconv.Itoa(i) {
				t.Fatalf("message %d from kcat: %+v", i, m)
			}
			if len(m.Headers) != 1 || m.Headers[0].Key != "source" || string(m.Headers[0].Value) != "kcat" {
				t.Fatalf("headers from kcat: %+v", m.Headers)
			}
		}
	})
}

func TestGokafkaProducesKcatConsumes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 3)
		produce(t, topic, kafka.ProducerConfig{Compression: kafka.CompressionZstd, UseRdkafka: e.rdkafka}, 200, func(i int) *kafka.Message {
			m := keyed(i)
			m.Headers = []kafka.Header{{Key: "n", Value: []byte(strconv.Itoa(i))}}
			return m
		})
		out := testhelp.Kcat(t, nil, "", "-C", "-t", topic.Name(), "-e", "-q", "-f", "%k|%s|%h\n")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 200 {
			t.Fatalf("kcat read %d messages, want 200:\n%s", len(lines), out)
		}
		seen := map[string]bool{}
		for _, l := range lines {
			parts := strings.Split(l, "|")
			if len(parts) != 3 || strings.TrimPrefix(parts[0], "k") != strings.TrimPrefix(parts[1], "value-") || parts[2] != "n="+strings.TrimPrefix(parts[1], "value-") {
				t.Fatalf("kcat read %q", l)
			}
			seen[parts[1]] = true
		}
		if len(seen) != 200 {
			t.Fatalf("kcat read %d distinct values", len(seen))
		}
	})
}

// HashingPartitioner must put a key where librdkafka's murmur2 partitioner
// (the Java client's default) puts it.
func TestHashingPartitionerMatchesKcat(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 7)
	var in strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&in, "user-%d:%d\n", i*7919, i)
	}
	testhelp.Kcat(t, nil, in.String(), "-P", "-t", topic.Name(), "-K:", "-X", "topic.partitioner=murmur2")
	c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	used := map[int32]bool{}
	for _, m := range consumeN(t, c, 300) {
		if want := kafka.HashingPartitioner(m, 7); m.Partition != want {
			t.Fatalf("kcat (murmur2) put key %q on partition %d, HashingPartitioner says %d", m.Key, m.Partition, want)
		}
		used[m.Partition] = true
	}
	if len(used) < 5 {
		t.Fatalf("300 keys landed on only %d of 7 partitions: the test proves little", len(used))
	}

	// And the reverse: gokafka writes, kcat reports the partition of each key.
	forEachEngine(t, func(t *testing.T, e engineCase) {
		topic := newTopic(t, client, 7)
		produce(t, topic, kafka.ProducerConfig{Partitioner: kafka.HashingPartitioner, UseRdkafka: e.rdkafka}, 300, func(i int) *kafka.Message {
			return &kafka.Message{Key: []byte(fmt.Sprintf("user-%d", i*7919)), Value: []byte(strconv.Itoa(i))}
		})
		out := testhelp.Kcat(t, nil, "", "-C", "-t", topic.Name(), "-e", "-q", "-f", "%k %p\n")
		byKey := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			byKey[f[0]] = f[1]
		}
		for i := 0; i < 300; i++ {
			k := fmt.Sprintf("user-%d", i*7919)
			p := kafka.HashingPartitioner(&kafka.Message{Key: []byte(k)}, 7)
			if byKey[k] != strconv.Itoa(int(p)) {
				t.Fatalf("key %s: kcat saw partition %s, want %d", k, byKey[k], p)
			}
		}
	})
}

// Messages produced by one engine are read by the other, and offsets
// committed by one are resumed by the other in the same group.
func TestEnginesInteroperate(t *testing.T) {
	client := newClient(t)
	if !rdkafkaCompiled(t, newTopic(t, client, 1)) {
		t.Log("rdkafka engine not compiled in (no cgo): ErrEngineNotEnabled asserted instead")
		return
	}
	for _, dir := range []struct{ from, to engineCase }{{engines[0], engines[1]}, {engines[1], engines[0]}} {
		t.Run(dir.from.name+"-to-"+dir.to.name, func(t *testing.T) {
			topic := newTopic(t, client, 3)
			produce(t, topic, kafka.ProducerConfig{Partitioner: kafka.HashingPartitioner, UseRdkafka: dir.from.rdkafka}, 300, keyed)
			ctx := testhelp.Ctx(t, time.Minute)
			group := testhelp.UniqueName(t, "g")
			first, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: dir.from.rdkafka}})
			if err != nil {
				t.Fatal(err)
			}
			a := consumeN(t, first, 100)
			if err := first.CommitOffsets(ctx); err != nil {
				t.Fatal(err)
			}
			committed, err := first.FetchOffsets(ctx)
			if err != nil {
				t.Fatal(err)
			}
			first.Close(ctx)
			second, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: dir.to.rdkafka}})
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close(context.Background())
			b := consumeN(t, second, 200)
			for _, m := range b {
				if m.Offset < committed[tp(topic, m.Partition)] {
					t.Fatalf("%s resumed p%d at %d, before %s's commit %d", dir.to.name, m.Partition, m.Offset, dir.from.name, committed[tp(topic, m.Partition)])
				}
			}
			all := byValue(t, append(a, b...))
			for i := 0; i < 300; i++ {
				m := all["value-"+strconv.Itoa(i)]
				if m == nil || string(m.Key) != "k"+strconv.Itoa(i) {
					t.Fatalf("message %d: %+v", i, m)
				}
				if want := kafka.HashingPartitioner(m, 3); m.Partition != want {
					t.Fatalf("%s put key %s on %d, want %d", dir.from.name, m.Key, m.Partition, want)
				}
			}
		})
	}
}
