// Command franz-go is the benchmark's client process for
// github.com/twmb/franz-go (kgo), the reference the figures are compared to.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/gokafka/kafka/bench/internal/workload"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	workload.Main(workload.Client{Name: "franz-go", Produce: produce, Consume: consume})
}

func produce(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.Brokers...),
		kgo.ClientID("bench"),
		kgo.DefaultProduceTopic(s.Topics[0]),
		kgo.ProducerLinger(s.Linger),
		kgo.ProducerBatchMaxBytes(int32(s.BatchBytes)),
		kgo.MaxBufferedRecords(s.MaxQueued),
	}
	switch s.Acks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks())) // idempotent by default
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		return fmt.Errorf("acks %q", s.Acks)
	}
	switch s.Compression {
	case "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		return fmt.Errorf("compression %q", s.Compression)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			t.Failed(err)
			return
		}
		t.AckedValue(r.Topic, r.Partition, r.Value)
	}
	t.Start()
	if len(s.Topics) == 1 {
		for i := range s.Count {
			cl.Produce(ctx, &kgo.Record{Value: t.Value(ctx, i)}, promise)
		}
	} else {
		topics := s.Cycle()
		for i := range s.Count {
			cl.Produce(ctx, &kgo.Record{Topic: topics.Next(), Value: t.Value(ctx, i)}, promise)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return workload.Wait(ctx, t)
}

func consume(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.Brokers...),
		kgo.ClientID("bench"),
		kgo.ConsumeTopics(s.Topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(workload.FetchMaxWait),
	}
	if s.Group {
		// A group of its own, read from the start, no commits.
		opts = append(opts, kgo.ConsumerGroup(fmt.Sprintf("bench-franz-%x", rand.Uint64())), kgo.DisableAutoCommit())
	} // else no group: a direct consumer of every partition from the start
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	t.Start()
	for t.Count() < s.Count {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) { ferr = fmt.Errorf("%s[%d]: %w", topic, p, err) })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) { t.ConsumedValue(r.Topic, r.Partition, r.Value) })
	}
	return nil
}
